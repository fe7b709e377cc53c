"""Benchmark: the agreement report for 10,000 cases x 3 raters with 1,000 bootstrap resamples.

Compares, side by side on this machine:
  ours     - the whole report as the worker computes it: load current ratings from the database,
             every total and item (6 scores for cohen2020), consensus and adjudication counts;
  library  - the same statistics per score computed by the libraries (krippendorff, scikit-learn,
             statsmodels, SciPy ICC) on in-memory arrays, with their bootstrap CIs by calling the
             libraries on each resample (timed on --library-resamples and scaled to 1,000).
Goals (issue 4): ours under 10 s, and under 1.5x the library computation.

    .venv/bin/python bench/agreement_report.py [--cases 10000] [--bootstrap 1000] [--library-resamples 40]
"""

import argparse
import time

from _setup import django_with_throwaway_db


def build_study(n_cases: int, seed: int = 0):
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.services import coordinator_set
    from annotation.models import Assignment, Case, Rating, StudyMembership
    from annotation.rubrics import COHEN2020, rubric_totals
    from annotation.services import study_create

    rng = np.random.default_rng(seed)
    User = get_user_model()
    owner = User.objects.create_user("bench-owner")
    coordinator_set(user=owner, allowed=True)  # only coordinators create studies
    study = study_create(owner=owner, slug="bench", title="bench", rubric="cohen2020")
    raters = [User.objects.create_user(f"bench-r{i}") for i in range(3)]
    StudyMembership.objects.bulk_create([StudyMembership(study=study, user=u, role="rater") for u in raters])
    cases = Case.objects.bulk_create(
        [Case(study=study, original_filename=f"c{i:06d}.png") for i in range(n_cases)], batch_size=2000
    )
    truth = rng.integers(0, 5, size=(n_cases, 2))
    assignments, ratings = [], []
    now = timezone.now()
    for case, (er, el) in zip(cases, truth, strict=True):
        for rater in raters:
            values = {
                "extent_right": int(np.clip(er + rng.integers(-1, 2), 0, 4)),
                "extent_left": int(np.clip(el + rng.integers(-1, 2), 0, 4)),
                "opacity_right": int(np.clip(er * 3 // 4 + rng.integers(-1, 2), 0, 3)),
                "opacity_left": int(np.clip(el * 3 // 4 + rng.integers(-1, 2), 0, 3)),
            }
            assignments.append(
                Assignment(study=study, case=case, rater=rater, order_key=int(rng.integers(0, 2**55)), completed_at=now)
            )
            ratings.append((values, rubric_totals(COHEN2020, values)))
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    Rating.objects.bulk_create(
        [
            Rating(assignment=a, revision=1, values=v, totals=t, created_at=now)
            for a, (v, t) in zip(assignments, ratings, strict=True)
        ],
        batch_size=5000,
    )
    for a in assignments:
        a.current_rating_id = None
    current = dict(Rating.objects.filter(assignment__study=study).values_list("assignment_id", "id"))
    for a in assignments:
        a.current_rating_id = current[a.pk]
    Assignment.objects.bulk_update(assignments, ["current_rating"], batch_size=5000)
    return study


def library_statistics(matrix, names, domain, categorical, resamples, seed=0):
    """The same statistics straight from the libraries, bootstrap by calling them per resample."""
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    def point(m):
        out = [
            krippendorff.alpha(
                reliability_data=m.T,
                level_of_measurement=level,
                value_domain=domain if level in ("nominal", "ordinal") else None,
            )
            for level in ("nominal", "ordinal", "interval", "ratio")
        ]
        kappas = []
        for a in range(m.shape[1]):
            for b in range(a + 1, m.shape[1]):
                both = ~np.isnan(m[:, a]) & ~np.isnan(m[:, b])
                kappas.append(cohen_kappa_score(m[both, a], m[both, b], weights="quadratic", labels=domain))
        return out, kappas

    (alphas, kappas) = point(matrix)
    complete = matrix[~np.isnan(matrix).any(axis=1)]
    if categorical:
        fleiss_kappa(aggregate_raters(complete.astype(int))[0])
    n, k = complete.shape  # ICC mean squares (Shrout & Fleiss), as pingouin/psych compute them
    grand = complete.mean()
    ms_r = k * ((complete.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_c = n * ((complete.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    _ = (ms_r, ms_c)
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        point(matrix[rng.integers(0, len(matrix), len(matrix))])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--library-resamples", type=int, default=40)
    args = parser.parse_args()
    django_with_throwaway_db()
    from annotation.models import Study
    from scoring.selectors import study_score_table
    from scoring.services.agreement import _domain, agreement_report_build

    t0 = time.perf_counter()
    build_study(args.cases)
    study = Study.objects.get(slug="bench")
    print(f"built {args.cases:,} cases x 3 raters in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    table = study_score_table(study=study)
    data = agreement_report_build(study=study, table=table, n_boot=args.bootstrap, seed=0)
    ours = time.perf_counter() - t0
    assert data["n_cases"] == args.cases and data["n_ratings"] == 3 * args.cases

    library_point, library_boot = 0.0, 0.0
    for key in data["scores"]:
        low, high = _domain(table, key)
        domain = list(range(low, high + 1))
        categorical = key in table.rubric.item_keys
        t0 = time.perf_counter()
        library_statistics(table.matrices[key], table.raters, domain, categorical, resamples=0)
        point = time.perf_counter() - t0
        t0 = time.perf_counter()
        library_statistics(table.matrices[key], table.raters, domain, categorical, resamples=args.library_resamples)
        boot = (time.perf_counter() - t0 - point) * args.bootstrap / max(1, args.library_resamples)
        library_point += point
        library_boot += point + boot

    print(f"{'':44}{'seconds':>10}{'ours / this':>14}")
    print(f"{'ours: full report from the database':44}{ours:10.2f}{'':>14}")
    print(f"{'library: same statistics, bootstrap CIs':44}{library_boot:10.2f}{ours / library_boot:14.3f}")
    print(f"{'library: point estimates only (no CIs)':44}{library_point:10.2f}{ours / library_point:14.3f}")
    print(
        f"goal: ours < 10 s -> {'met' if ours < 10 else 'NOT met'}; "
        f"ours < 1.5x library -> {'met' if ours < 1.5 * library_boot else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
