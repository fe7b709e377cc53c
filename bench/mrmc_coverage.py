"""Simulation: coverage of the crossover comparison's 95% intervals when the model has no effect.

Each simulated crossover study draws aided and unaided reads from the same distribution (0-8 scale
of a geographic-extent total: case severity + reader bias + a reader-by-condition effect + noise,
rounded and clipped) and runs the report's analysis (scoring/agreement/mrmc.py: MAE against the
other readers' unaided consensus, Obuchowski-Rockette with Hillis' ddf). It prints, per design:

  random readers - how often the averaged aided-minus-unaided CI covers 0 (readers and cases
                   random; the population of readers has no effect);
  fixed readers  - how often each reader's own CI (cases random, z-based) covers 0, with no
                   reader-by-condition effect (so each reader's true difference is 0 as well);
  old rule       - the mean aided-minus-unaided MAE difference when unaided reads are scored
                   against a consensus that contains the reader's own read (the bias of issue 15).
Goal (issue 15): coverage 93-97% and a mean difference within 0.05 of 0.

    .venv/bin/python bench/mrmc_coverage.py [--studies 2000] [--seed 0]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.agreement.mrmc import crossover_errors, or_hillis_mean  # noqa: E402

DESIGNS = [  # readers, cases, readers per case (None: every reader reads every case)
    (3, 40, None),
    (5, 40, None),
    (5, 100, None),
    (8, 60, None),
    (6, 80, 3),
]


def study(rng, readers: int, cases: int, per_case: int | None, tau: float):
    severity = rng.normal(4.0, 1.5, (cases, 1)) + rng.normal(0.0, 0.5, (1, readers))
    reads = [
        np.clip(np.rint(severity + rng.normal(0.0, tau, (1, readers)) + rng.normal(0.0, 1.0, (cases, readers))), 0, 8)
        for _ in range(2)
    ]
    if per_case:
        keep = np.argsort(rng.random((cases, readers)), axis=1) < per_case
        reads = [np.where(keep, r, np.nan) for r in reads]
    return reads


def run(design, n: int, seed: int) -> dict:
    readers, cases, per_case = design
    rng = np.random.default_rng(seed)
    random_cover, differences, fixed_cover, old = [], [], [], []
    for _ in range(n):
        unaided, aided = study(rng, readers, cases, per_case, tau=0.2)
        result = or_hillis_mean(crossover_errors(unaided=unaided, aided=aided))
        random_cover.append(result.ci95[0] <= 0 <= result.ci95[1])
        differences.append(result.difference)
        unaided, aided = study(rng, readers, cases, per_case, tau=0.0)
        result = or_hillis_mean(crossover_errors(unaided=unaided, aided=aided))
        fixed_cover.extend(r.ci95[0] <= 0 <= r.ci95[1] for r in result.readers)
        consensus = np.nanmean(unaided, axis=1, keepdims=True)
        old.append(np.nanmean(np.abs(aided - consensus)) - np.nanmean(np.abs(unaided - consensus)))
    return {
        "random": np.mean(random_cover),
        "difference": np.mean(differences),
        "fixed": np.mean(fixed_cover),
        "old": np.mean(old),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.studies} simulated crossover studies per design, no true effect")
    print("readers  cases  per case  random readers  fixed readers  mean difference  old rule")
    start = time.perf_counter()
    met = True
    for design in DESIGNS:
        out = run(design, args.studies, args.seed)
        readers, cases, per_case = design
        print(
            f"{readers:7d}  {cases:5d}  {per_case or readers:8d}  {out['random']:14.3f}  {out['fixed']:13.3f}"
            f"  {out['difference']:+15.4f}  {out['old']:+8.3f}"
        )
        met &= 0.93 <= out["random"] <= 0.97 and abs(out["difference"]) < 0.05
    verdict = "met" if met else "NOT met"
    print(f"({time.perf_counter() - start:.0f} s) goal (93-97% and |mean difference| < 0.05): {verdict}")


if __name__ == "__main__":
    main()
