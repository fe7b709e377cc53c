"""Simulation: coverage of the bootstrap 95% intervals of Krippendorff's alpha (interval): percentile
vs BCa, and case vs patient resampling when patients have serial images (issue 15, Intervals).

Scores are severity + reader bias + noise (variances 4, 1 and 1), rounded to 0-8, readers fixed: the
truth is alpha of these readers over the population of cases (one study of 200,000 cases). With
serial images, each patient's images share the severity and each reader's view of that patient
(variance 1) and differ by a small change per image (variance 0.25): the images are not independent,
so resampling them as cases understates the spread.

Readers random (the two-way option): each study draws new readers (bias variance 1) and the truth is
alpha for the population of readers (one study of 200,000 cases and 200 readers); intervals from
resampling cases only (readers fixed) against resampling cases and readers (two-way). Pure NumPy,
no database.

    .venv/bin/python bench/bootstrap_coverage.py [--studies 500] [--resamples 500] [--seed 0]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.agreement import krippendorff_alpha  # noqa: E402
from scoring.agreement.bootstrap import _bca_ci, _percentile_ci  # noqa: E402
from scoring.agreement.summary import _replicates  # noqa: E402

DOMAIN = list(range(9))


def study(rng, readers: np.ndarray, patients: int, images: int) -> tuple[np.ndarray, list[int]]:
    severity = np.repeat(4 + rng.normal(0, 2, (patients, 1)), images, axis=0)
    view = np.repeat(rng.normal(0, 1 if images > 1 else 0, (patients, readers.size)), images, axis=0)
    change = rng.normal(0, 0.5 if images > 1 else 0, (patients * images, 1))
    noise = rng.normal(0, 1, (patients * images, readers.size))
    m = np.clip(np.round(severity + change + view + readers[None, :] + noise), 0, 8)
    return m, list(np.repeat(np.arange(patients), images))


def intervals(m: np.ndarray, clusters, n_boot: int, seed: int, raters: str = "fixed") -> tuple:
    boot = (m, DOMAIN, ["interval"], False, n_boot, seed, clusters)
    replicates = _replicates(*boot, raters=raters)["interval"]
    jackknife = _replicates(*boot, jackknife=True, raters=raters)["interval"]
    estimate = krippendorff_alpha(m, level="interval", domain=DOMAIN)
    return _percentile_ci(replicates), _bca_ci(replicates, estimate, jackknife)


def covers(interval, truth: float) -> bool:
    return interval is not None and interval[0] <= truth <= interval[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    readers = rng.normal(0, 1, 3)
    start = time.perf_counter()
    print(f"{'alpha (interval), 3 readers fixed':52}{'percentile':>11}{'BCa':>8}")
    rows = []
    for name, patients, images, by_patient in [
        ("40 cases, independent", 40, 1, False),
        ("120 cases, independent", 120, 1, False),
        ("40 patients x 3 images, cases resampled", 40, 3, False),
        ("40 patients x 3 images, patients resampled", 40, 3, True),
    ]:
        big = study(rng, readers, 200_000 // images, images)[0]
        truth = float(krippendorff_alpha(big, level="interval", domain=DOMAIN))
        hits = np.zeros(2)
        for s in range(args.studies):
            m, ids = study(rng, readers, patients, images)
            hits += [covers(ci, truth) for ci in intervals(m, ids if by_patient else None, args.resamples, s)]
        rows.append((name, *(hits / args.studies)))
        print(f"{name:52}{100 * rows[-1][1]:10.1f}%{100 * rows[-1][2]:7.1f}%")
    print(f"{args.studies} studies per row, {args.resamples} resamples, {time.perf_counter() - start:.0f} s")
    met = all(0.93 <= r[2] <= 0.97 for r in rows if "cases resampled" not in r[0])
    print(f"goal: BCa 93-97% where the resampling unit is independent -> {'met' if met else 'NOT met'}")
    random_readers(rng, args.studies, args.resamples)


def random_readers(rng, studies: int, resamples: int) -> None:
    """New readers in every study: cases-only (readers fixed) against two-way (readers random)."""
    start = time.perf_counter()
    population = study(rng, rng.normal(0, 1, 200), 200_000, 1)[0]
    truth = float(krippendorff_alpha(population, level="interval", domain=DOMAIN))
    print(f"\n{'alpha (interval), readers random, truth ' + f'{truth:.3f}':52}{'percentile':>11}{'BCa':>8}")
    for readers, cases in [(3, 40), (3, 120), (6, 40)]:
        hits = {"fixed": np.zeros(2), "random": np.zeros(2)}
        for s in range(studies):
            m = study(rng, rng.normal(0, 1, readers), cases, 1)[0]
            for raters in hits:
                hits[raters] += [covers(ci, truth) for ci in intervals(m, None, resamples, s, raters)]
        for raters, name in (("fixed", "cases resampled"), ("random", "cases and readers (two-way)")):
            label = f"{readers} readers, {cases} cases, {name}"
            print(f"{label:52}{100 * hits[raters][0] / studies:10.1f}%{100 * hits[raters][1] / studies:7.1f}%")
    print(f"{studies} studies per row, {resamples} resamples, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
