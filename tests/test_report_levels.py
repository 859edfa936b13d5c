"""Weights per quantization level, as the APoT and INQ/ELQ readers count them from a record's summary."""
from qrepro.methods.apot import weights_per_level
from qrepro.methods.inq import frozen_per_level


def test_apot_counts_weights_on_the_shared_level_set_in_units_of_alpha():
    record = {"summary": {"weight_levels": [-1.0, 0.0, 1.0],
                          "layers": {"a": {"level_counts": [1, 2, 3]}, "b": {"level_counts": [4, 0, 1]}}}}
    assert weights_per_level(record) == ([-1.0, 0.0, 1.0], [5, 2, 4])


def test_inq_elq_count_frozen_weights_in_units_of_each_layer_s_largest_level():
    record = {"summary": {"layers": {"a": {"levels": [-0.5, 0.0, 0.5], "level_counts": [1, 2, 3]},
                                     "b": {"levels": [-2.0, 0.0, 2.0], "level_counts": [4, 0, 1]}}}}
    assert frozen_per_level(record) == ([-1.0, 0.0, 1.0], [5, 2, 4])
