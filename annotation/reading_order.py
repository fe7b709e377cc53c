"""Each rater's reading order: pure functions, no database.

A rater's order is a seeded pseudo-random order, reproducible from the seed recorded on their
membership, and stable when cases are added later (a case's key depends only on the seed and the
case). In a crossover study each case is read twice, once unaided and once aided: the first reads
form a first session and the second reads a second one, each case's first condition drawn at
random, and the second session is arranged so that at least `gap` other reads separate the two
reads of a case (a washout against recall).
"""

import hashlib
import random
from dataclasses import dataclass

SECOND_SESSION = 1 << 55  # keys of second reads start here; first reads stay below
_STEP = 1 << 16


def order_key(*, seed: int, case_id: int, read: int = 1) -> int:
    """A key below SECOND_SESSION for a first read (or the only read), from the seed and case."""
    text = f"{seed}:{case_id}" if read == 1 else f"{seed}:{case_id}:{read}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "big") >> 1


def reads_for_case(*, mode: str, seed: int, case_id: int) -> list[tuple[bool, int]]:
    """(aided, order key) for each read a rater makes of a case under a study's assistance mode."""
    first = order_key(seed=seed, case_id=case_id)
    if mode == "none":
        return [(False, first)]
    if mode == "shown":
        return [(True, first)]
    aided_first = random.Random(f"{seed}:{case_id}:condition").random() < 0.5
    return [(aided_first, first), (not aided_first, SECOND_SESSION + order_key(seed=seed, case_id=case_id, read=2))]


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
