"""Benchmark: import_ratings of a past reader study, 3,000 cases x 3 raters = 9,000 ratings (cohen2020).

Compares, side by side on this machine, each into a fresh study of its own in one throwaway SQLite
database (image-less cases, no assignments yet: the import creates them, as for a past study):
  bulk       - annotation.csv_io.ratings_csv_import, what the command, the page and the API run;
  row by row - the import as it was (issue 17's baseline): the same file parsed and validated, then
               per row get_or_create the assignment and store it through annotation.services.rating_store.
Goals (issue 17): bulk at least 20x the row-by-row rate, and at least 2,000 ratings/s.

    .venv/bin/python bench/import_ratings.py [--cases 3000] [--raters 3] [--repeats 3]
"""

import argparse
import os
import statistics
import time

RATERS_PREFIX = "bench-rater"


def build_study(*, slug: str, n_cases: int, n_raters: int):
    """A draft cohen2020 study of n_cases image-less cases and n_raters raters."""
    from django.contrib.auth import get_user_model

    from accounts.services import coordinator_set
    from annotation.models import Case, StudyMembership
    from annotation.services import membership_add, study_create

    User = get_user_model()
    owner = User.objects.create_user(f"{slug}-owner")
    coordinator_set(user=owner, allowed=True)
    study = study_create(owner=owner, slug=slug, title=slug, rubric="cohen2020")
    for i in range(n_raters):
        user, _ = User.objects.get_or_create(username=f"{RATERS_PREFIX}{i}")
        membership_add(study=study, user=user, role=StudyMembership.Role.RATER)
    Case.objects.bulk_create([Case(study=study, original_filename=f"c{i:06d}.png") for i in range(n_cases)])
    return study


def ratings_csv(*, n_cases: int, n_raters: int) -> bytes:
    lines = ["image,rater,extent_right,extent_left,opacity_right,opacity_left,duration_s,rated_at"]
    for i in range(n_cases):
        for r in range(n_raters):
            e = (i + r) % 5
            lines.append(
                f"c{i:06d}.png,{RATERS_PREFIX}{r},{e},{(3 * i + r) % 5},{min(e, 3)},{(i + 2 * r) % 4},"
                f"{5 + (i % 50) / 4},2020-04-{1 + i % 28:02d}T10:{r:02d}:00"
            )
    return "\n".join(lines).encode()


def import_row_by_row(*, study, data: bytes) -> int:
    """ratings_csv_import before issue 17: validate the file, then one assignment and one rating_store per row."""
    from django.db import transaction

    from annotation.csv_io import ratings_csv_parse
    from annotation.models import Assignment, Rating
    from annotation.selectors import study_main_reads_aided
    from annotation.services import assignment_order_key
    from annotation.services.ratings import rating_store

    with transaction.atomic():
        parsed = ratings_csv_parse(study=study, data=data, allow_missing_images=False)
        cases = {case.original_filename: case for case in study.cases.all()}
        members = {m.user.username: m for m in study.memberships.select_related("user")}
        main_aided = study_main_reads_aided(study)
        for row in parsed:
            case, membership = cases[row.image], members[row.rater]
            assignment, _ = Assignment.objects.get_or_create(
                case=case,
                rater=membership.user,
                aided=main_aided if row.aided is None else row.aided,
                defaults={
                    "study": study,
                    "order_key": assignment_order_key(seed=membership.queue_seed, case_id=case.pk),
                },
            )
            rating_store(
                assignment=assignment,
                values=row.values,
                reading_time_s=row.duration_s,
                source=Rating.Source.IMPORT,
                rated_at=row.rated_at,
            )
    return len(parsed)


def timed(function, *, study, data: bytes, expected: int) -> float:
    from annotation.models import Rating

    started = time.perf_counter()
    count = function(study=study, data=data)
    elapsed = time.perf_counter() - started
    assert count == expected == Rating.objects.filter(assignment__study=study).count()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="bulk imports timed, each into a fresh study")
    args = parser.parse_args()
    os.environ.update(DEBUG="0", SECRET_KEY="bench-only", STATIC_MANIFEST="0")  # no query log in memory
    from _setup import django_with_throwaway_db

    django_with_throwaway_db()
    from annotation.csv_io import ratings_csv_import

    data = ratings_csv(n_cases=args.cases, n_raters=args.raters)
    expected = args.cases * args.raters
    # The baseline first, then the bulk import --repeats times, each into a fresh study, its median
    # taken: on a shared machine a run of two seconds is more at the mercy of a busy moment than one
    # of a minute.
    baseline = build_study(slug="rowwise", n_cases=args.cases, n_raters=args.raters)
    t_rows = timed(import_row_by_row, study=baseline, data=data, expected=expected)
    t_bulk = statistics.median(
        timed(
            ratings_csv_import,
            study=build_study(slug=f"bulk{i}", n_cases=args.cases, n_raters=args.raters),
            data=data,
            expected=expected,
        )
        for i in range(args.repeats)
    )

    bulk_rate, rows_rate = expected / t_bulk, expected / t_rows
    ratio = bulk_rate / rows_rate
    print(f"import of {expected:,} ratings ({args.cases:,} cases x {args.raters} raters, cohen2020), SQLite")
    print(f"  {'row by row (rating_store per row)':44s} {t_rows:8.2f} s  {rows_rate:8.0f} ratings/s")
    print(f"  {f'bulk (ratings_csv_import), median of {args.repeats}':44s} {t_bulk:8.2f} s  {bulk_rate:8.0f} ratings/s")
    print(f"  ratio bulk / row by row: {ratio:.1f}x (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    print(f"  bulk rate: {bulk_rate:,.0f} ratings/s (goal >= 2,000: {'met' if bulk_rate >= 2000 else 'NOT met'})")


if __name__ == "__main__":
    main()
