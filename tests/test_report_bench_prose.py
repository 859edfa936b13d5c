"""The Reproduce page's sentences about speed and precision are written from the benchmark records."""
from qrepro.report import bench_prose


def result(benchmark: str, rows: list[dict]) -> dict:
    return {"benchmark": benchmark, "rows": rows, "device": "CPU Test, 2 threads", "date": "2026-12-07T00:00:00"}


def step(case: str, method: str, precision: str, ms: float, fp_ms: float, arch: str = "resnet20") -> dict:
    bits = {"fp": 32, "bwn": 1}.get(method, 2)
    return {"case": case, "method": method, "bits": bits, "precision": precision, "ms_per_step": ms,
            "ratio_to_fp": ms / fp_ms, "arch": arch, "bf16_speedup": 1.5}


def qat_step(apot_bf16: float) -> dict:
    rows = []
    for precision, fp in (("fp32", 200.0), ("bf16", 100.0)):
        rows += [step("fp", "fp", precision, fp, fp), step("bwn", "bwn", precision, 1.02 * fp, fp),
                 step("twn", "twn", precision, 1.05 * fp, fp),
                 step("apot", "apot", precision, (apot_bf16 if precision == "bf16" else 1.1) * fp, fp),
                 step("fp (pre-activation)", "fp", precision, fp, fp, "preact_resnet20"),
                 step("pdqat (pre-activation)", "pdqat", precision, 1.9 * fp, fp, "preact_resnet20")]
    return result("qat_step", rows)


def test_step_ratios_quote_the_record_and_name_the_missed_targets():
    text = bench_prose.step_ratios(qat_step(apot_bf16=1.6))
    assert "1.02× to 1.05× in fp32 and 1.02× to 1.05× in bf16" in text
    assert "Over the 1.3× target" in text and "apot, bf16 at 1.60×" in text and "apot, fp32" not in text
    assert "Every case is within the 2.0× target" in text
    assert "Over the" not in bench_prose.step_ratios(qat_step(apot_bf16=1.2))


def test_bf16_speed_quotes_both_precisions_full_precision_steps():
    text = bench_prose.bf16_speed(qat_step(1.2), None)
    assert "100 ms under bf16 against 200 ms in fp32, 2.00× faster" in text
    assert "No `qat_step` record" in bench_prose.bf16_speed(None, None)


def curve(precision: str, seed: int, top1: float, loss: float) -> list[dict]:
    return [{"case": "FP", "precision": precision, "seed": seed, "epoch": epoch, "test_top1": top1 - 3 + epoch,
             "train_loss": loss, "seconds": 100.0 if precision == "bf16" else 200.0} for epoch in (1, 2, 3)]


def test_precision_agreement_says_whether_the_gap_is_within_the_seed_noise():
    within = result("precision_curves", curve("fp32", 0, 70, 0.8) + curve("bf16", 0, 69.5, 0.81)
                    + curve("fp32", 1, 71, 0.8))
    beyond = result("precision_curves", curve("fp32", 0, 70, 0.8) + curve("bf16", 0, 68, 0.81)
                    + curve("fp32", 1, 70.5, 0.8))
    assert "a gap of 0.50 points" in bench_prose.precision_agreement(within)
    assert "no larger than a change of seed" in bench_prose.precision_agreement(within)
    text = bench_prose.precision_agreement(beyond)
    assert "no larger" not in text and "larger than the change of seed's for FP (2.00 against 0.50 points)" in text
    assert "A bf16 epoch took 100 s against 200 s in fp32" in text


def test_the_page_quotes_the_cpu_record_of_a_benchmark():
    cpu, gpu = qat_step(1.2), {**qat_step(1.6), "device": "CUDA NVIDIA H100"}
    assert bench_prose.latest([cpu, gpu], "qat_step") is cpu
    assert bench_prose.latest([gpu], "qat_step") is None
