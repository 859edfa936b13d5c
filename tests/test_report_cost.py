"""The training hours the book puts beside its verdicts come from the records of the runs behind each row."""
from qrepro.config import Schedule, TrainConfig
from qrepro.report.cost import training_seconds
from qrepro.runs import get_or_run


def lenet(method: str = "fp", bits: int = 32, init: TrainConfig | None = None) -> TrainConfig:
    return TrainConfig(chapter="t", data="digits", arch="lenet5", schedule=Schedule(epochs=1), method=method,
                       bits=bits, init=init)


def test_a_rows_hours_count_its_quantized_ancestors_once_and_its_full_precision_parent_apart(runs_root, one_thread):
    parent = lenet()
    stage = lenet("twn", 2, init=parent)
    last, sibling = lenet("bwn", 1, init=stage), lenet("bwn", 1, init=parent)
    wall = {config.run_id: get_or_run(config, progress=False)["wall_time_s"]
            for config in (parent, stage, last, sibling)}
    records = [get_or_run(last, progress=False), get_or_run(last, progress=False)]  # the same run twice
    assert training_seconds(records) == {stage.run_id: wall[stage.run_id], last.run_id: wall[last.run_id]}
    assert training_seconds(records, full_precision=True) == {parent.run_id: wall[parent.run_id]}
    assert training_seconds([get_or_run(sibling, progress=False)]) == {sibling.run_id: wall[sibling.run_id]}
