"""Planning a reliability study: how many cases for a CI of a given half-width. Reads no study, so
anyone logged in may use it; it answers a GET with query parameters and writes nothing."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from scoring.agreement.planning import StudyPlan, study_plan

PAGE_MAX_CASES = 1000


class PlanForm(forms.Form):
    metric = forms.ChoiceField(
        choices=[("icc", "ICC (Zou 2012)"), ("alpha", "Krippendorff's alpha (simulation)")], initial="icc"
    )
    expected = forms.FloatField(label="Expected value", min_value=0.01, max_value=0.99, initial=0.8)
    raters = forms.IntegerField(label="Raters per case", min_value=2, max_value=50, initial=3)
    half_width = forms.FloatField(label="95% CI half-width", min_value=0.01, max_value=0.5, initial=0.1)
    assurance = forms.FloatField(label="Assurance (ICC)", min_value=0.5, max_value=0.99, initial=0.5, required=False)

    def plan(self) -> StudyPlan | None:
        if not self.is_bound or not self.is_valid():
            return None
        data = self.cleaned_data
        common = {"expected": data["expected"], "raters": data["raters"], "half_width": data["half_width"]}
        # A page answers in a moment: the alpha simulation's cost grows with the cases it tries, so
        # larger plans are left to the command (`plan_study`), which has no such bound.
        extra = {"assurance": data["assurance"] or 0.5} if data["metric"] == "icc" else {"max_cases": PAGE_MAX_CASES}
        try:
            return study_plan(metric=data["metric"], **common, **extra)
        except ValueError as error:
            larger = data["metric"] == "alpha" and "would be needed" in str(error)
            self.add_error(None, f"{error}{': plan_study on the command line plans larger studies' if larger else ''}")
            return None


@login_required
@require_GET
def plan_page(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.GET if "metric" in request.GET else None)
    return render(request, "scoring/plan.html", {"form": form, "plan": form.plan()})
