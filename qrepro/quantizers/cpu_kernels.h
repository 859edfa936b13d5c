// What the fused CPU kernels need beside torch (cpu_kernels.cpp; see cpu_kernels.py).
#pragma once

#include <cstdint>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define QREPRO_X86 1
#endif
#if defined(QREPRO_X86) && defined(__linux__)
#define QREPRO_CLONES __attribute__((target_clones("avx2", "default")))  // one AVX2 build, one portable
#else
#define QREPRO_CLONES
#endif

namespace qrepro {
constexpr int64_t kGrain = 32768;  // elements per task, as ATen's element-wise kernels
}  // namespace qrepro
