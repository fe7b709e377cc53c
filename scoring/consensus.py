"""Consensus of the raters' totals. Pure functions: no database, no Django."""

from decimal import ROUND_HALF_UP, Decimal
from statistics import fmean


def consensus_mean(values: list[float]) -> float | None:
    """The paper's consensus: the mean of the raters' current totals (None without any rating)."""
    return fmean(values) if values else None


def round_published(value: float, *, decimals: int = 1) -> str:
    """Round half up to `decimals`, as the published covid-severity file does (8/3 -> "2.7").

    Decimal avoids binary float surprises (e.g. round(0.25, 1) == 0.2 in plain Python).
    """
    quantum = Decimal(1).scaleb(-decimals)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))
