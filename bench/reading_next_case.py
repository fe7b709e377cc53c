"""Server time of the reading room's next-case round trip, for large studies.

One round trip is what "Save and next" costs the server: POST the rating (302) -> GET the resume URL
(302) -> GET the next reading page (200), through django.test.Client, in-process (server time, no
network, no browser). Each study has N cases, each read by every rater, with half of each rater's
queue already done; the image rows are fake (the page never opens the files).

    .venv/bin/python bench/reading_next_case.py [--cases 10000 100000] [--rounds 60] [--raters 3]

Prints the median and p95 per size and, side by side, the ratio to the first size (the baseline).
A throwaway SQLite database in a temporary VAR_DIR is built and removed; expect about a minute
for 100,000 cases.
"""

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 5_000
VALUES = {"extent_right": "2", "opacity_right": "1", "extent_left": "3", "opacity_left": "2", "reading_time_s": "9.5"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", type=int, nargs="+", default=[10_000, 100_000], help="study sizes; the first is the baseline"
    )
    parser.add_argument("--rounds", type=int, default=60, help="measured round trips per size (after 5 warm-up rounds)")
    parser.add_argument("--raters", type=int, default=3, help="raters per study, each reading every case")
    args = parser.parse_args()
    if min(args.cases) < 2 * (args.rounds + 5):
        parser.error("each study needs at least twice as many cases as rounds")
    with tempfile.TemporaryDirectory(prefix="bench-reading-") as var_dir:
        _setup_django(var_dir)
        rows = [_measure(n_cases=n, rounds=args.rounds, n_raters=args.raters) for n in args.cases]
    _report(rows, rounds=args.rounds, n_raters=args.raters)


def _setup_django(var_dir: str) -> None:
    # Before django.setup(): settings read these once. A throwaway SQLite file, never the real one.
    os.environ.update(
        VAR_DIR=var_dir,
        DATABASE_URL=f"sqlite:///{var_dir}/bench.sqlite3",
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",  # no query log in memory
        STATIC_MANIFEST="0",  # templates name static files; no collectstatic in a bench
        SECRET_KEY="bench-only",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _build(*, n_cases: int, n_raters: int):
    """An open study of n_cases with n_raters raters; half of every rater's queue is done."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from accounts.services import coordinator_set
    from annotation.models import Assignment, Case, Image, Study, StudyMembership
    from annotation.services import assignment_order_key, membership_add, study_create
    from annotation.services.queues import rater_queues_renumber

    User = get_user_model()
    slug = f"bench-{n_cases}"
    owner = User.objects.create_user(username=f"{slug}-owner")
    coordinator_set(user=owner, allowed=True)  # only coordinators create studies
    raters = [User.objects.create_user(username=f"{slug}-rater{i}") for i in range(n_raters)]
    study = study_create(owner=owner, slug=slug, title=slug, raters_per_case=n_raters)
    seeds = {r.pk: membership_add(study=study, user=r, role=StudyMembership.Role.RATER).queue_seed for r in raters}
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN)
    for start in range(0, n_cases, CHUNK):
        with transaction.atomic():
            images = Image.objects.bulk_create(
                Image(
                    sha256=hashlib.sha256(f"{slug}:{i}".encode()).hexdigest(),
                    original=f"originals/{slug}-{i}.png",
                    display=f"display/{slug}-{i}.png",
                    source_format="png",
                    bit_depth=8,
                    width=2048,
                    height=2048,
                    display_width=2048,
                    display_height=2048,
                )
                for i in range(start, min(n_cases, start + CHUNK))
            )
            cases = Case.objects.bulk_create(
                Case(study=study, image=image, original_filename=f"{slug}-{start + i}.png")
                for i, image in enumerate(images)
            )
            Assignment.objects.bulk_create(
                Assignment(
                    study=study, case=case, rater=r, order_key=assignment_order_key(seed=seeds[r.pk], case_id=case.pk)
                )
                for case in cases
                for r in raters
            )
    now = timezone.now()
    for r in raters:
        keys = Assignment.objects.filter(study=study, rater=r).order_by("order_key").values_list("order_key", flat=True)
        middle = keys[n_cases // 2]
        Assignment.objects.filter(study=study, rater=r, order_key__lt=middle).update(completed_at=now)
    rater_queues_renumber(study_id=study.pk)  # what the services do after changing queues in bulk
    return study, raters[0]


def _measure(*, n_cases: int, rounds: int, n_raters: int) -> dict:
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    study, rater = _build(n_cases=n_cases, n_raters=n_raters)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what a production database does on its own
    built_s = time.perf_counter() - started
    client = Client()
    client.force_login(rater)
    url = client.get(f"/studies/{study.slug}/read/")["Location"]
    steps: dict[str, list[float]] = {"post": [], "resume": [], "page": [], "total": []}
    for i in range(rounds + 5):
        t0 = time.perf_counter()
        saved = client.post(url, VALUES)
        t1 = time.perf_counter()
        resumed = client.get(saved["Location"])
        t2 = time.perf_counter()
        page = client.get(resumed["Location"])
        t3 = time.perf_counter()
        assert (saved.status_code, resumed.status_code, page.status_code) == (302, 302, 200), "unexpected answer"
        url = resumed["Location"]
        if i >= 5:  # warm-up: caches, the first template compilation
            for key, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                steps[key].append(seconds * 1000)
    return {"cases": n_cases, "built_s": built_s, **{key: _summary(values) for key, values in steps.items()}}


def _summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _report(rows: list[dict], *, rounds: int, n_raters: int) -> None:
    base_median, base_p95 = rows[0]["total"]
    print("Next-case round trip: POST rating -> 302 -> GET resume -> 302 -> GET reading page.")
    print(f"Server time in ms (django.test.Client, in-process, SQLite); {rounds} rounds per size after 5 warm-up,")
    print(
        f"{n_raters} raters reading every case, half of each queue done. Ratios are against {rows[0]['cases']:,} cases."
    )
    print()
    print("POST, resume and page: the median of each step alone.")
    print()
    print(
        f"{'cases':>9}  {'median':>7}  {'p95':>7}  {'x median':>8}  {'x p95':>6}  "
        f"{'POST':>6}  {'resume':>6}  {'page':>6}  {'build':>6}"
    )
    for row in rows:
        median, p95 = row["total"]
        print(
            f"{row['cases']:>9,}  {median:>7.2f}  {p95:>7.2f}  {median / base_median:>8.2f}  {p95 / base_p95:>6.2f}"
            f"  {row['post'][0]:>6.2f}  {row['resume'][0]:>6.2f}  {row['page'][0]:>6.2f}  {row['built_s']:>5.0f}s"
        )


if __name__ == "__main__":
    main()
