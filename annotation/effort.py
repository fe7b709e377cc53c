"""Time and effort of a reader study: per rater, how long a case takes and how many an hour; per
case, where the raters disagree, revise and spend time. Pure Python, no Django (the owner's page
gets its reads from annotation/selectors.py).

Conventions:
- A read's reading time is the sum of its revisions' times. The reading page times each visit of a
  case on its own (a revision after "Previous" measures only the revisit), so the sum is the time the
  rater spent on the case; a revision without a time (an API client that sent none) adds nothing.
- Cases per hour are given twice: from the reading times (3600 / mean time per read: the pace while a
  case is on screen), and from the submissions' clock times (reads done per hour of active time:
  loading, pauses and flags included). Active time is the time between a rater's consecutive
  submissions, except gaps over SESSION_GAP_S, which end a session; each session also counts one
  median reading time, for the first case read in it.
- Disagreement on a case is the largest spread (highest minus lowest of the raters' current totals)
  over the rubric's totals, in points, as the adjudication range measures it.
"""

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

SESSION_GAP_S = 30 * 60
# Lower edges of the reading-time bins, in seconds; the last bin has no upper edge.
TIME_BIN_EDGES_S = (0, 5, 10, 20, 30, 60, 120, 300)


@dataclass(frozen=True)
class Read:
    """One rater's read of one case, scored (totals) or flagged (totals None)."""

    rater: str
    case: str
    totals: Mapping[str, float] | None
    revisions: int = 1
    times_s: tuple[float, ...] = ()  # each revision's reading time, where one was measured
    submitted_at: tuple[datetime, ...] = ()  # each live submission or flag (not imports)
    aided: bool = False  # a model-assisted read (a crossover study reads each case both ways)

    @property
    def time_s(self) -> float | None:
        return sum(self.times_s) if self.times_s else None


@dataclass(frozen=True)
class Bin:
    low_s: float
    high_s: float | None
    count: int

    @property
    def label(self) -> str:
        if self.high_s is None:
            return f"≥ {duration_label(self.low_s)}"
        return f"{duration_label(self.low_s)}–{duration_label(self.high_s)}"


@dataclass(frozen=True)
class RaterEffort:
    rater: str
    reads: int  # scored and flagged
    scored: int
    timed: int  # reads with a reading time
    median_s: float | None
    q1_s: float | None
    q3_s: float | None
    total_s: float
    per_hour_reading: float | None
    active_s: float
    per_hour_active: float | None
    bins: tuple[Bin, ...]

    @property
    def flagged(self) -> int:
        return self.reads - self.scored

    @property
    def largest_bin(self) -> int:
        return max((b.count for b in self.bins), default=0)


@dataclass(frozen=True)
class CaseEffort:
    case: str
    scored: int
    spread: float | None  # None with fewer than two scored reads
    spread_total: str | None
    farthest: str | None  # the rater farthest from the median on that total, when one is
    extra_revisions: int  # revisions beyond each rater's first
    time_s: float


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between order statistics (NumPy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def histogram(values: Iterable[float], edges: Sequence[float] = TIME_BIN_EDGES_S) -> tuple[Bin, ...]:
    counts = [0] * len(edges)
    for value in values:
        counts[max(0, bisect.bisect_right(edges, value) - 1)] += 1
    highs = [*edges[1:], None]
    return tuple(Bin(low, high, count) for low, high, count in zip(edges, highs, counts, strict=True))


def active_seconds(times: Iterable[datetime], *, typical_s: float | None, gap_s: float = SESSION_GAP_S) -> float:
    """Time spent at work, from the clock times of submissions (see the module's conventions)."""
    ordered = sorted(times)
    if not ordered:
        return 0.0
    gaps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
    sessions = 1 + sum(1 for gap in gaps if gap > gap_s)
    return sum(gap for gap in gaps if gap <= gap_s) + sessions * (typical_s or 0.0)


def rater_effort(reads: Iterable[Read]) -> list[RaterEffort]:
    """Per rater, by name: reads done, reading time median and quartiles, cases per hour, bins."""
    by_rater: dict[str, list[Read]] = defaultdict(list)
    for read in reads:
        by_rater[read.rater].append(read)
    return [_one_rater(rater, by_rater[rater]) for rater in sorted(by_rater)]


def _one_rater(rater: str, reads: list[Read]) -> RaterEffort:
    times = [read.time_s for read in reads if read.time_s is not None]
    median = quantile(times, 0.5)
    total = sum(times)
    live = [read for read in reads if read.submitted_at]
    active = active_seconds([t for read in live for t in read.submitted_at], typical_s=median)
    return RaterEffort(
        rater=rater,
        reads=len(reads),
        scored=sum(1 for read in reads if read.totals is not None),
        timed=len(times),
        median_s=median,
        q1_s=quantile(times, 0.25),
        q3_s=quantile(times, 0.75),
        total_s=total,
        per_hour_reading=3600 * len(times) / total if total > 0 else None,
        active_s=active,
        per_hour_active=3600 * len(live) / active if active > 0 else None,
        bins=histogram(times),
    )


def case_effort(reads: Iterable[Read], *, total_keys: Sequence[str]) -> list[CaseEffort]:
    """Per case: the raters' disagreement, their extra revisions and the time they spent on it."""
    by_case: dict[str, list[Read]] = defaultdict(list)
    for read in reads:
        by_case[read.case].append(read)
    return [_one_case(case, case_reads, total_keys) for case, case_reads in by_case.items()]


def _one_case(case: str, reads: list[Read], total_keys: Sequence[str]) -> CaseEffort:
    scored = [read for read in reads if read.totals is not None]
    spread, spread_total, farthest = None, None, None
    for key in total_keys:
        values = {read.rater: read.totals[key] for read in scored if read.totals.get(key) is not None}
        if len(values) < 2:
            continue
        span = max(values.values()) - min(values.values())
        if spread is None or span > spread:
            spread, spread_total, farthest = span, key, _farthest(values)
    return CaseEffort(
        case=case,
        scored=len(scored),
        spread=spread,
        spread_total=spread_total,
        farthest=farthest,
        extra_revisions=sum(max(0, read.revisions - 1) for read in reads),
        time_s=sum(read.time_s or 0.0 for read in reads),
    )


def _farthest(values: Mapping[str, float]) -> str | None:
    """The one rater farthest from the median of all, or None when the raters are as far (two raters
    apart, or none apart at all): then nobody stands out."""
    middle = quantile(list(values.values()), 0.5)
    distance = {rater: abs(value - middle) for rater, value in values.items()}
    top = max(distance.values())
    leaders = [rater for rater, d in distance.items() if d == top]
    return leaders[0] if top > 0 and len(leaders) == 1 else None


CASE_ORDERS = {
    "spread": lambda c: (-(c.spread if c.spread is not None else -1), -c.extra_revisions, -c.time_s, c.case),
    "revisions": lambda c: (-c.extra_revisions, -(c.spread if c.spread is not None else -1), -c.time_s, c.case),
    "time": lambda c: (-c.time_s, -(c.spread if c.spread is not None else -1), -c.extra_revisions, c.case),
}


def cases_ranked(cases: Iterable[CaseEffort], *, by: str = "spread", limit: int | None = None) -> list[CaseEffort]:
    """The cases where raters are slow to agree first: by spread, by extra revisions or by time."""
    ranked = sorted(cases, key=CASE_ORDERS[by])
    return ranked[:limit] if limit is not None else ranked


def duration_label(seconds: float | None) -> str:
    """12.5 -> "12.5 s", 95 -> "1 min 35 s", 7200 -> "2 h 0 min"."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds % 1 else f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h {rest} min"
