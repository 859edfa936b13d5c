"""Mean ± std over seeds, written one way in every table of the book.

The book's one convention (stated in its introduction): the sample standard deviation over seeds (ddof = 1,
pandas' default), shown from two seeds on. Published numbers keep their own (a paper's table may give the
population std, ddof = 0).
"""
from __future__ import annotations

import pandas as pd


def mean_std(mean: float, std: float = float("nan"), seeds: int | None = None, digits: int = 2,
             signed: bool = False, missing: str = "–") -> str:
    """``mean ± std`` with ``digits`` decimals (a sign on the mean when ``signed``); the mean alone without a std
    or below two ``seeds`` (a sample std over one seed is NaN anyway); ``missing`` when there is no mean."""
    if pd.isna(mean):
        return missing
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return text if pd.isna(std) or (seeds is not None and seeds < 2) else f"{text} ± {std:.{digits}f}"


def series_mean_std(values: pd.Series, digits: int = 2, signed: bool = False, missing: str = "–") -> str:
    """``mean_std`` of the non-missing values of one series (one value per seed)."""
    values = values.dropna()
    if values.empty:
        return missing
    return mean_std(values.mean(), values.std(), len(values), digits, signed, missing)
