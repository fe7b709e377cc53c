"""Should a candidate head replace the active one? A paired comparison over the same splits. No ORM.

Both are scored on the same held-out halves (each refitted per split by its own recipe, or a head not
fitted on these cases applied as it is), so the per-split MAE differences are paired. The splits
overlap, so their differences are correlated and a plain t-interval over 50 splits would be far too
narrow: the variance is inflated by Nadeau and Bengio's correction (1/J + n_test/n_train; Machine
Learning 52, 2003), about 50 times for 50 half/half splits. Each target is judged on its own scale,
with a margin that is a fraction of its range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

# Non-inferiority margin: a target may get worse by at most 2% of its range (0.16 of 0-8, 0.12 of 0-6).
PROMOTION_MARGIN = 0.02
CONFIDENCE = 0.95
RULE = (
    "promote when, on the same held-out splits, the {confidence:.0%} CI of the MAE difference "
    "(candidate - active, Nadeau-Bengio corrected) lies below 0 for at least one target and below "
    "+{margin:.0%} of the range for every target"
)


def compare_paired(
    candidate: Mapping[str, Sequence[float | None]],
    active: Mapping[str, Sequence[float | None]],
    *,
    ranges: Mapping[str, float],
    test_train_ratio: float,
    margin: float = PROMOTION_MARGIN,
    confidence: float = CONFIDENCE,
) -> dict:
    """Per target: mean MAE difference, its CI, the margin and a verdict; then the decision and why."""
    from scipy.stats import t as student_t

    targets = {}
    for target, values in candidate.items():
        pairs = [(c, a) for c, a in zip(values, active.get(target, ()), strict=False) if None not in (c, a)]
        diffs = np.array([c - a for c, a in pairs], dtype=np.float64)
        bound = margin * float(ranges[target])
        if len(diffs) < 2:
            targets[target] = {"n_splits": len(diffs), "margin": bound, "verdict": "undecided"}
            continue
        correction = 1 / len(diffs) + test_train_ratio
        se = math.sqrt(correction * float(np.var(diffs, ddof=1)))
        half = float(student_t.ppf(0.5 + confidence / 2, len(diffs) - 1)) * se
        mean = float(diffs.mean())
        low, high = mean - half, mean + half
        verdict = "better" if high < 0 else "not worse" if high < bound else "worse" if low > 0 else "undecided"
        targets[target] = {
            "n_splits": len(diffs),
            "mean_difference": mean,
            "ci": [low, high],
            "margin": bound,
            "verdict": verdict,
        }
    verdicts = [entry["verdict"] for entry in targets.values()]
    promote = bool(verdicts) and all(v in ("better", "not worse") for v in verdicts) and "better" in verdicts
    return {
        "rule": RULE.format(confidence=confidence, margin=margin),
        "confidence": confidence,
        "targets": targets,
        "promote": promote,
        "reason": _reason(targets, promote),
    }


def _reason(targets: Mapping[str, dict], promote: bool) -> str:
    parts = []
    for target, entry in targets.items():
        if "ci" not in entry:
            parts.append(f"{target}: too few splits to compare")
            continue
        low, high = entry["ci"]
        parts.append(
            f"{target}: MAE difference {entry['mean_difference']:+.3f} (CI {low:+.3f} to {high:+.3f}, "
            f"margin {entry['margin']:.3f}): {entry['verdict']}"
        )
    head = "better than the active version" if promote else "not shown better than the active version"
    return f"{head}; " + "; ".join(parts)
