"""Each rater's reading order: pure functions, no database.

A rater's order is a seeded pseudo-random order, reproducible from the seed recorded on their
membership, and stable when cases are added later (a case's key depends only on the seed and the
case). In a crossover study each case is read twice, once unaided and once aided: the first reads
form a first session and the second reads a second one, each case's first condition drawn at
random, and the second session is arranged so that at least `gap` other reads separate the two
reads of a case (a washout against recall).

Repeat reads (intra-rater reliability): a seeded choice of a fraction of each rater's cases is read
a second time, unannounced, placed after the washout in cases among the first reads (`repeat_cases`,
`repeat_keys`); when it is served is the reading selectors' business (the washout in days).
"""

import hashlib
import math
import random
from dataclasses import dataclass

SECOND_SESSION = 1 << 55  # keys of second reads start here; first reads stay below
_STEP = 1 << 16


def order_key(*, seed: int, case_id: int, read: int | str = 1) -> int:
    """A key below SECOND_SESSION for a first read (or the only read), from the seed and case."""
    text = f"{seed}:{case_id}" if read == 1 else f"{seed}:{case_id}:{read}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "big") >> 1


def reads_for_case(*, mode: str, seed: int, case_id: int) -> list[tuple[bool, int]]:
    """(aided, order key) for each read a rater makes of a case under a study's assistance mode."""
    first = order_key(seed=seed, case_id=case_id)
    if mode == "none":
        return [(False, first)]
    if mode in ("shown", "prelabel"):  # one read, with the model's output in view
        return [(True, first)]
    aided_first = random.Random(f"{seed}:{case_id}:condition").random() < 0.5
    return [(aided_first, first), (not aided_first, SECOND_SESSION + order_key(seed=seed, case_id=case_id, read=2))]


def repeat_keys(*, seed: int, first_keys: dict[int, int], chosen: set[int], gap: int) -> dict[int, int]:
    """The keys of a rater's repeat reads (case id -> key): each placed `gap` to 2 x `gap` first
    reads (a seeded draw) after the rater's first read of the case, in their seeded order, or after
    the last first read where the queue is shorter. Read in order, a repeat then comes at its
    numbered place, after the washout in cases, instead of being served out of turn later (an
    earlier case number than the one before it would give it away). `first_keys`: the rater's first
    reads, case id -> key."""
    ordered = sorted(first_keys.values())
    slots: dict[int, int] = {}  # repeats landing after the same first read, numbered apart
    keys = {}
    for case_id in sorted(chosen, key=lambda c: (first_keys[c], c)):
        jitter = random.Random(f"{seed}:{case_id}:repeat-place").randint(0, max(gap, 0))
        after = min(ordered.index(first_keys[case_id]) + max(gap, 0) + jitter, len(ordered) - 1)
        slots[after] = slots.get(after, 0) + 1
        keys[case_id] = ordered[after] + slots[after]  # seeded keys are ~2^55 apart on average
    return keys


def repeat_count(*, fraction: float, cases: int) -> int:
    """round(fraction x cases), halves rounded up (Python's round() would make 0.5 x 1 zero)."""
    if not 0 <= fraction <= 1:
        raise ValueError("the repeat fraction must be between 0 and 1")
    return min(cases, math.floor(fraction * cases + 0.5))


def repeat_cases(*, seed: int, case_ids: list[int], fraction: float) -> set[int]:
    """The rater's cases that get a repeat read: the `repeat_count` cases with the smallest seeded
    draw. Reproducible from the seed; a case added later joins only if its draw is small enough,
    so that the choice changes as little as it can when the rater's cases change."""
    draw = {case_id: order_key(seed=seed, case_id=case_id, read="repeat-choice") for case_id in set(case_ids)}
    chosen = sorted(draw, key=lambda case_id: (draw[case_id], case_id))
    return set(chosen[: repeat_count(fraction=fraction, cases=len(draw))])


@dataclass(frozen=True)
class Read:
    pk: int
    case_id: int
    key: int
    done: bool


def second_session_keys(reads: list[Read], *, gap: int) -> dict[int, int]:
    """New keys for the rater's pending second reads so that each is at least `gap` other reads
    after the first read of its case, keeping the seeded order where the gap allows.

    Reads already done keep their keys and come first. Where fewer than `gap` cases exist the
    constraint cannot hold; the order then keeps each case as far apart as it can.
    """
    first = sorted((r for r in reads if r.key < SECOND_SESSION), key=lambda r: r.key)
    second = [r for r in reads if r.key >= SECOND_SESSION]
    after_first = {r.case_id: len(first) - 1 - i for i, r in enumerate(first)}  # reads after it in session 1
    done = sorted((r for r in second if r.done), key=lambda r: r.key)
    pending = sorted((r for r in second if not r.done), key=lambda r: r.key)
    base = max([SECOND_SESSION] + [r.key for r in done])
    keys: dict[int, int] = {}
    position = len(done)
    while pending:
        eligible = [r for r in pending if after_first.get(r.case_id, gap) + position >= gap]
        chosen = eligible[0] if eligible else max(pending, key=lambda r: after_first.get(r.case_id, 0))
        pending.remove(chosen)
        keys[chosen.pk] = base + (len(keys) + 1) * _STEP
        position += 1
    return keys


# Queue order by the model (studies whose raters see it: `shown`, `prelabel`). A blinded study
# never comes here: its raters keep their seeded random order.


def uncertainty(*, intervals: dict[str, list[float]], ranges: dict[str, tuple[int, int]]) -> float | None:
    """How unsure a prediction is: the widths of its conformal intervals, each divided by its
    target's range, summed over the targets. None without an interval for every target."""
    if not ranges or any(not intervals.get(target) for target in ranges):
        return None
    return sum((intervals[t][1] - intervals[t][0]) / ((hi - lo) or 1) for t, (lo, hi) in ranges.items())


def expected_disagreement(*, values: dict[str, float], ranges: dict[str, tuple[int, int]]) -> float | None:
    """A proxy for how much raters will disagree on a case: how near the predicted totals are to
    the middle of their scales (1 at the middle, 0 at either end, summed over the targets). Bounded
    ordinal scores spread least near their floor and ceiling (a clear lung, a white-out) and most
    in between. None without a predicted value for every target."""
    if not ranges or any(values.get(target) is None for target in ranges):
        return None
    closeness = 0.0
    for target, (lo, hi) in ranges.items():
        share = min(max((values[target] - lo) / ((hi - lo) or 1), 0.0), 1.0)
        closeness += 1 - abs(2 * share - 1)
    return closeness


def prioritised_keys(reads: list[Read], *, seed: int, priority: dict[int, float]) -> dict[int, int]:
    """New keys for a rater's pending reads: the cases with a priority first, highest first (ties
    broken by the seeded key), then those without one in the seeded random order. Reads already
    done are left out (they keep their keys); an empty `priority` gives every pending read its
    seeded key back (the random order).

    The new keys follow the rater's last done read, so that the reads done keep the first places
    in the numbering ("case 5 of 40" stays after the four done) and a case given to the rater later
    (seeded key, no prediction yet) mostly goes after the ranked ones until the order is made again;
    with nothing done yet they are negative, below every seeded key."""
    pending = [r for r in reads if not r.done]
    seeded = {r.pk: order_key(seed=seed, case_id=r.case_id) for r in pending}
    if not priority:
        return seeded
    ranked = sorted((r for r in pending if r.case_id in priority), key=lambda r: (-priority[r.case_id], seeded[r.pk]))
    rest = sorted((r for r in pending if r.case_id not in priority), key=lambda r: seeded[r.pk])
    done = [r.key for r in reads if r.done]
    base = max(done) if done else -(len(pending) + 1) * _STEP
    return {r.pk: base + (i + 1) * _STEP for i, r in enumerate(ranked + rest)}
