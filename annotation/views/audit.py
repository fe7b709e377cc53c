"""The audit trail, for owners only: it names raters and files, so raters and observers get a 404."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from annotation import selectors
from annotation.audit import audit_changes, audit_csv_export, audit_export
from annotation.models import AuditEvent, Study
from annotation.permissions import Ability, study_access_get
from core.http import csv_response

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Kind", required=False)
    actor = forms.ChoiceField(label="Person", required=False)
    case = forms.CharField(label="Case (filename or id)", required=False, max_length=255)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: QueryDict, *, study: Study):
        super().__init__(data)
        self.fields["action"].choices = [("", "Any"), *AuditEvent.Action.choices]
        people = [(name, name) for name in selectors.study_audit_actors(study=study)]
        self.fields["actor"].choices = [("", "Anyone"), *people, (selectors.AUDIT_SYSTEM_ACTOR, "System")]

    def filters(self) -> dict[str, object]:
        """The valid filters: one bad field (a date mistyped) leaves the others applied."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


@login_required
def study_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    form = AuditFilterForm(request.GET, study=study)
    filters = form.filters()
    events = selectors.study_audit_events(study=study, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rubric = study.rubric_definition
    rows = [(event, audit_changes(details=event.details, rubric=rubric)) for event in page]
    context = {"study": study, "page": page, "rows": rows, "form": form, "filtered": bool(filters)}
    return render(request, "annotation/audit.html", context)


@login_required
def export_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    filters = AuditFilterForm(request.GET, study=study).filters()
    text = audit_csv_export(study=study, filters=filters)
    audit_export(study=study, actor=request.user, export="audit.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-audit.csv")
