"""The owner's view of time and effort: reading times per named rater are personal data, so owners
only (MANAGE_STUDY); observers and raters get a 404 like anyone the page is not for."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import effort, selectors
from annotation.permissions import Ability, study_access_get

CASES_SHOWN = 25


@login_required
def study_effort(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    order = request.GET.get("cases", "spread")
    order = order if order in effort.CASE_ORDERS else "spread"
    reads = selectors.study_effort_reads(study=study)
    rubric = study.rubric_definition
    # Disagreement between the reads the analysis uses: a crossover study's aided reads apart.
    main = [read for read in reads if read.aided == selectors.study_main_reads_aided(study)]
    cases = effort.case_effort(main, total_keys=rubric.total_keys)
    shown = effort.cases_ranked(cases, by=order, limit=CASES_SHOWN)
    names = selectors.study_case_names(study=study, public_ids=[case.case for case in shown])
    times = [read.time_s for read in reads if read.time_s is not None]
    bins = effort.histogram(times)
    context = {
        "study": study,
        "raters": effort.rater_effort(reads),
        "bins": bins,
        "largest_bin": max(b.count for b in bins),
        "cases": [(case, names.get(case.case)) for case in shown],
        "n_cases": len(cases),
        "order": order,
        "total_labels": {total.key: total.label for total in rubric.totals},
        "n_reads": len(reads),
        "median_s": effort.quantile(times, 0.5),
        "total_s": sum(times),
        "session_gap_min": effort.SESSION_GAP_S // 60,
    }
    return render(request, "annotation/effort.html", context)
