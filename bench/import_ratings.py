"""Benchmark: import_ratings of a past reader study, 3,000 cases x 3 raters = 9,000 ratings (cohen2020).

Compares, side by side on this machine, annotation.csv_io.ratings_csv_import (what the command, the
page and the API run) of this tree with the same function of the code before issue 17 (--baseline,
bba8f21, unpacked with git archive into a temporary folder and run with this virtualenv): the same
file, each into a fresh study of its own (image-less cases, no assignments yet: the import creates
them, as for a past study) in a throwaway SQLite database, each side in a fresh process.
Goals (issue 17): at least 20x the baseline's rate, and at least 2,000 ratings/s.

The baseline is that code itself, not a re-enactment of it here: the import before issue 17 stored
row by row through the save every rater makes, which issue 17 made faster too.

    .venv/bin/python bench/import_ratings.py [--baseline bba8f21] [--cases 3000] [--raters 3] [--repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, revision_unpacked

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


def timed(function, *, study, data: bytes, expected: int) -> float:
    from annotation.models import Rating

    started = time.perf_counter()
    count = function(study=study, data=data)
    elapsed = time.perf_counter() - started
    assert count == expected == Rating.objects.filter(assignment__study=study).count()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="bba8f21", help="the git revision to compare with (issue 17's baseline)")
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="imports of this tree timed, each into a fresh study")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # the code one side runs (a folder)
    args = parser.parse_args()
    if args.side:
        return _side(args)
    expected = args.cases * args.raters
    with tempfile.TemporaryDirectory(prefix="bench-import-baseline-") as folder:
        # The baseline once: at its rate, 9,000 ratings take about a minute.
        t_before = _run_side(args, source=revision_unpacked(args.baseline, Path(folder)), repeats=1)
    t_now = _run_side(args, source=ROOT, repeats=args.repeats)

    now_rate, before_rate = expected / t_now, expected / t_before
    ratio = now_rate / before_rate
    print(f"import of {expected:,} ratings ({args.cases:,} cases x {args.raters} raters, cohen2020), SQLite")
    print(f"  {f'before issue 17 ({args.baseline})':36s} {t_before:8.2f} s  {before_rate:8.0f} ratings/s")
    print(f"  {f'this tree, median of {args.repeats}':36s} {t_now:8.2f} s  {now_rate:8.0f} ratings/s")
    print(f"  ratio: {ratio:.1f}x (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    print(f"  rate: {now_rate:,.0f} ratings/s (goal >= 2,000: {'met' if now_rate >= 2000 else 'NOT met'})")


def _run_side(args, *, source: Path, repeats: int) -> float:
    """The median seconds of `repeats` imports with the code in `source`, in a fresh process."""
    command = [sys.executable, __file__, "--side", str(source), "--repeats", str(repeats)]
    command += ["--cases", str(args.cases), "--raters", str(args.raters)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=source)
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def _side(args) -> None:
    os.environ.update(DEBUG="0", SECRET_KEY="bench-only", STATIC_MANIFEST="0")  # no query log in memory
    from _setup import django_with_throwaway_db

    django_with_throwaway_db(Path(args.side))
    from annotation.csv_io import ratings_csv_import

    data = ratings_csv(n_cases=args.cases, n_raters=args.raters)
    expected = args.cases * args.raters
    # Each import into a fresh study, the median taken: on a shared machine a run of two seconds is
    # more at the mercy of a busy moment than one of a minute.
    seconds = statistics.median(
        timed(
            ratings_csv_import,
            study=build_study(slug=f"bulk{i}", n_cases=args.cases, n_raters=args.raters),
            data=data,
            expected=expected,
        )
        for i in range(args.repeats)
    )
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
