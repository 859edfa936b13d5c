"""The book's one mean ± std convention (sample std over seeds, shown from two seeds on)."""
import pandas as pd

from qrepro.report.stats import mean_std, series_mean_std


def test_std_is_the_sample_std_and_needs_two_seeds():
    values = pd.Series([70.0, 72.0, 74.0])
    assert series_mean_std(values) == "72.00 ± 2.00"  # ddof = 1; the population std would be 1.63
    assert series_mean_std(pd.Series([71.256])) == "71.26"
    assert series_mean_std(pd.Series([float("nan"), 1.0, 3.0]), signed=True) == "+2.00 ± 1.41"
    assert series_mean_std(pd.Series([], dtype=float)) == "–"


def test_mean_std_formats_one_value_a_missing_one_and_digits():
    assert mean_std(0.12345, 0.01, 4, digits=3) == "0.123 ± 0.010"
    assert mean_std(float("nan"), missing="no record") == "no record"
    assert mean_std(-1.5, signed=True) == "-1.50"
