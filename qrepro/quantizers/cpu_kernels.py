"""Fused CPU kernels for the activation quantizers of APoT and DoReFa: one pass over memory per direction.

In eager PyTorch every operator of a quantizer is its own pass over the tensor: APoT's activation quantizer is
eight (scale, clip, cell index, table lookup; mask, residual, dot, masked gradient) where a ReLU is two, and on a
2-core CPU those passes are most of what a quantized training step costs beyond a full-precision one. The kernels
(``cpu_kernels.cpp``) do each direction in one pass, evaluating the same float32 operations in the same order as the
eager code, and leave to torch the reductions whose result depends on the summation order (``torch.dot``), so
outputs and gradients are equal bit for bit. tests/test_cpu_kernels.py compares each with eager at the values where
rounding decides, and tests/test_kernels_training.py trains every kind of run both ways and compares the models bit
for bit. Weight tensors are small; their quantizers run eager (see ``ops``).

The quantizers reach them only through ``ops``, which passes each kernel its quantizer's eager formula to run
wherever the kernel does not apply. They are compiled once per machine with ``torch.utils.cpp_extension`` (a C++
compiler and ninja; about a minute; see ``build_directory``) and used for float32 CPU tensors in a dense memory
order. ``QREPRO_KERNELS`` chooses:

- ``auto`` (default): the kernels where they build; where they do not, a warning naming the compiler error, then
  the eager code (same numbers, slower);
- ``compiled``: the kernels, or an error where they do not build;
- ``eager``: never the kernels.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType

import torch

MODES = ("auto", "compiled", "eager")
SOURCES = [Path(__file__).with_name("cpu_kernels.cpp")]
OPENMP = ["-fopenmp"] if sys.platform.startswith("linux") else []  # threads, as torch's kernels (not Apple clang)
FLAGS = ["-O3", "-ffp-contract=off", "-fno-trapping-math", *OPENMP]  # no value-changing optimization


def mode() -> str:
    """``QREPRO_KERNELS``, checked: one of ``MODES``."""
    value = os.environ.get("QREPRO_KERNELS") or "auto"
    if value not in MODES:
        raise ValueError(f"QREPRO_KERNELS={value!r}: choose one of {', '.join(MODES)}")
    return value


def build_directory() -> Path:
    """Where the kernels are built: $TORCH_EXTENSIONS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/torch_extensions, in a
    folder per torch and Python version (a build is only loadable by the torch it was compiled against)."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache",
                                                          "torch_extensions")
    version = f"torch{torch.__version__}-py{sys.version_info.major}{sys.version_info.minor}".replace("+", "-")
    return Path(root, f"qrepro_cpu_kernels-{version}")


# taken at import, so that a process (a test, a benchmark) that points XDG_CACHE_HOME elsewhere later keeps the build
BUILD_DIRECTORY = build_directory()


@cache
def _build() -> ModuleType | Exception:
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # not "no CUDA runtime found" on a CPU
    from torch.utils.cpp_extension import load

    scripts = str(Path(sys.executable).parent)  # pip's ninja lands beside the interpreter, maybe not on PATH
    if shutil.which("ninja") is None and shutil.which("ninja", path=scripts):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    try:  # any failure, from the build directory on (one that cannot be created), is a build that did not happen
        BUILD_DIRECTORY.mkdir(parents=True, exist_ok=True)
        if not any(BUILD_DIRECTORY.glob("*.so")):
            print("qrepro: compiling the fused CPU quantizer kernels (once per machine, about a minute)",
                  file=sys.stderr)
        return load("qrepro_cpu_kernels", [str(source) for source in SOURCES], extra_cflags=FLAGS, extra_ldflags=OPENMP,
                    build_directory=str(BUILD_DIRECTORY))
    except Exception as err:  # a directory, a missing compiler or ninja, a failed build or load: the message says which
        return err


def kernels() -> ModuleType | None:
    """The compiled kernels, or None under ``QREPRO_KERNELS=eager`` (or, warned, where they do not build)."""
    chosen = mode()
    if chosen == "eager":
        return None
    built = _build()
    if not isinstance(built, Exception):
        return built
    if chosen == "compiled":
        raise RuntimeError(f"QREPRO_KERNELS=compiled, but the fused CPU kernels did not build: {built}") from built
    _warn_once(built)
    return None


@cache
def _warn_once(err: Exception) -> None:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]  # a build log ends with its cause
    warnings.warn(f"qrepro's fused CPU kernels did not build ({'; '.join(lines[-2:]) or repr(err)}); quantizers run "
                  "as eager PyTorch, same numbers, slower. Set QREPRO_KERNELS=eager to silence this, or install a C++ "
                  "compiler and ninja.", RuntimeWarning, stacklevel=4)


_scratch = threading.local()


def scratch_like(x: torch.Tensor) -> torch.Tensor:
    """A buffer shaped and strided like the dense ``x`` for a temporary that dies within the call (APoT's residual,
    read once by ``torch.dot``), kept per thread and grown as needed: a fresh one would cost the operating system's
    first touch of every page, each step."""
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.numel() < x.numel():
        buffer = _scratch.buffer = torch.empty(x.numel())
    return buffer[: x.numel()].as_strided(x.shape, x.stride())


def dense(tensor: torch.Tensor) -> bool:
    """Contiguous, or channels-last contiguous: every element once, no gaps."""
    return tensor.is_contiguous() or (tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last))


def for_tensors(*tensors: torch.Tensor) -> ModuleType | None:
    """The kernels when they apply to all of ``tensors`` (float32, on the CPU, dense, one memory layout), else None;
    None under ``torch.compile`` too, which traces (and fuses) the eager formula instead."""
    first = tensors[0]
    shape, stride = first.shape, first.stride()
    for tensor in tensors:
        if tensor.dtype != torch.float32 or not tensor.is_cpu or tensor.stride() != stride or tensor.shape != shape:
            return None
    return kernels() if dense(first) and not torch.compiler.is_compiling() else None
