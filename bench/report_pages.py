"""Benchmark: the agreement report as a page vs as JSON, 10,000 cases x 3 raters, report computed.

Both are served from the stored report (its statistics and its figures, drawn once when the report
was computed); the page adds the layout and the owner's adjudication queue. Times GET of each
through django.test.Client, in-process (server time), as the study's owner, and prints the ratio.

    .venv/bin/python bench/report_pages.py [--cases 10000] [--rounds 15]

Goal (issue 17): the page within 1.3x of the JSON.
"""

import argparse
import statistics
import time

from _setup import django_with_throwaway_db


def _computed_report(study) -> None:
    from scoring.models import DEFAULT_BOOTSTRAP, AgreementReport
    from scoring.selectors import agreement_report_key
    from scoring.services.agreement import agreement_report_execute

    # Queued and computed as a worker would, with the bootstrap the pages ask for (not timed).
    report = AgreementReport.objects.create(**agreement_report_key(study=study, n_boot=DEFAULT_BOOTSTRAP, seed=0))
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == AgreementReport.Status.DONE, report.error


def _median_ms(client, url: str, rounds: int) -> float:
    client.get(url)  # warm-up: template compilation, first imports
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    django_with_throwaway_db()
    from agreement_report import build_study
    from django.test import Client, override_settings

    from annotation.models import Study

    build_study(args.cases)
    study = Study.objects.get(slug="bench")
    _computed_report(study)
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(study.memberships.get(role="owner").user)
        page = _median_ms(client, f"/studies/{study.slug}/report/", args.rounds)
        data = _median_ms(client, f"/studies/{study.slug}/report.json", args.rounds)
    print(f"Agreement report, {args.cases:,} cases x 3 raters, stored report; median of {args.rounds} GETs.")
    print(f"{'':24}{'ms':>10}{'x JSON':>10}")
    print(f"{'GET report.json':24}{data:10.1f}{1:10.2f}")
    print(f"{'GET report page':24}{page:10.1f}{page / data:10.2f}")
    print(f"goal: page within 1.3x of JSON -> {'met' if page <= 1.3 * data else 'NOT met'}")


if __name__ == "__main__":
    main()
