"""The case browser and the case page: owners, and adjudicators read-only (Ability.READ_CASES).
A blind adjudicator (not an owner, in a study with adjudication_blind) sees no filename or rater
name here, as on the adjudication page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotation.permissions import Ability, reads_cases_blind, study_access_get
from scoring import case_browser


@login_required
def case_browser_page(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
    study, blind = access.study, reads_cases_blind(access)
    query = case_browser.BrowseQuery.from_params(request.GET, blind=blind)
    cases = case_browser.study_cases_browse(study=study, query=query, blind=blind)
    page = Paginator(cases, case_browser.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "study": study,
        "blind": blind,
        "is_owner": access.may(Ability.MANAGE_STUDY),
        "query": query,
        "filters": case_browser.FILTERS,
        "sorts": {k: v[0] for k, v in case_browser.SORTS.items() if not blind or k in case_browser.BLIND_SORTS},
        "page": page,
        "rows": case_browser.case_rows_for_page(study=study, cases=list(page.object_list), blind=blind),
        "totals": study.rubric_definition.totals,
    }
    return render(request, "scoring/case_browser.html", context)


@login_required
def case_page(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
    study = access.study
    case = get_object_or_404(study.cases.select_related("image", "study"), public_id=public_id)
    detail = case_browser.case_detail_get(
        case=case, blind=reads_cases_blind(access), with_model_output=access.may(Ability.MODEL_OUTPUT)
    )
    context = {
        "study": study,
        "detail": detail,
        "is_owner": access.may(Ability.MANAGE_STUDY),
        "can_adjudicate": access.may(Ability.ADJUDICATE),
        "columns": case_browser.rubric_columns(study),
        "item_columns": [(item.key, item.label) for item in study.rubric_definition.items],
        "total_columns": [(total.key, total.label) for total in study.rubric_definition.totals],
        "items": study.rubric_definition.items,
        "totals": study.rubric_definition.totals,
    }
    return render(request, "scoring/case_page.html", context)
