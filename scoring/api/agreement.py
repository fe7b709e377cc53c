"""Agreement report, consensus and adjudication over the API: owners and observers, never raters.

The same rules as scoring/views/agreement.py: the report for owners and observers; anything that names a
case's file or a rater's scores for owners and adjudicators only; recording a final score for
adjudicators only. Anyone else gets 404.

Model versions, pre-score and retrain jobs and predictions: scoring/api/model.py.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import services as annotation_services
from annotation.audit import audit_export
from annotation.models import Case
from annotation.permissions import Ability, StudyAccess, reads_cases_blind, study_access_get
from core.api import FileResponseMixin, errors
from core.errors import StateConflict
from core.http import csv_response
from core.pagination import Pagination
from scoring import selectors, services
from scoring.exports import consensus_csv, scores_covid_severity_export
from scoring.models import AgreementReport
from scoring.report_formats import report_csv

SCHEMA_TAG = "agreement"
CSV = OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8, with a header row.")


class ReportFailed(APIException):
    status_code = 500
    default_code = "report_failed"


class ReportPendingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AgreementReport.Status.choices)
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    """Documents the report's JSON (the same as the report page's report.json and the CLI's)."""

    study = serializers.SlugField()
    rubric = serializers.CharField()
    n_cases = serializers.IntegerField()
    n_raters = serializers.IntegerField()
    n_ratings = serializers.IntegerField()
    scores = serializers.DictField(
        child=serializers.DictField(),
        help_text="Per total and item: Krippendorff's alpha, ICC, Fleiss' and weighted kappa, agreement, per-rater "
        "bias, Bland-Altman; each with its 95% CI or the reason it is undefined.",
    )
    consensus_method = serializers.CharField()
    adjudication = serializers.DictField()
    bootstrap = serializers.DictField()


class ReportNotRequested(StateConflict):
    code = "report_not_requested"


def _report(request, slug: str) -> tuple[StudyAccess, AgreementReport]:
    """The report for the current ratings, as computed or queued; a GET never starts one."""
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    report = selectors.agreement_report_current(study=access.study)
    if report is None:
        raise ReportNotRequested("no report for the current ratings yet: POST to the report URL to compute it")
    if report.status == AgreementReport.Status.FAILED:
        raise ReportFailed(report.error or "the report could not be computed")
    return access, report


def _pending(report: AgreementReport) -> Response:
    # 202 while a worker computes it: clients poll (Retry-After), as with the page's report.json.
    body = {"status": report.status, "done": report.done, "total": report.total, "error": report.error or None}
    return Response(ReportPendingSerializer(body).data, status=status.HTTP_202_ACCEPTED, headers={"Retry-After": "2"})


REPORT_RESPONSES = {
    202: OpenApiResponse(ReportPendingSerializer, description="Being computed: poll again after Retry-After seconds."),
    500: OpenApiResponse(description="The computation failed; the error says why (same as the report page)."),
    **errors(404, 409),
}


class ReportApi(APIView):
    @extend_schema(
        operation_id="report_retrieve",
        responses={200: ReportSerializer, **REPORT_RESPONSES},
        summary="The agreement report for the current ratings (owners and observers)",
        description="Cached per version of the ratings and computed by a worker once asked for with a POST: "
        "409 `report_not_requested` until then, 202 while it is computed.",
    )
    def get(self, request, slug: str):
        access, report = _report(request, slug)
        if report.status != AgreementReport.Status.DONE:
            return _pending(report)
        return Response(selectors.agreement_report_data_for(access=access, report=report))

    @extend_schema(
        operation_id="report_request",
        request=None,
        responses={200: ReportSerializer, **{k: v for k, v in REPORT_RESPONSES.items() if k != 409}},
        summary="Compute the agreement report for the current ratings (owners and observers)",
        description="Queues the report for a worker (202, poll the GET) or returns it when it is computed "
        "already (200). Asking again for the same ratings starts nothing new.",
    )
    def post(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
        report = services.agreement_report_request(study=access.study)
        if report.status == AgreementReport.Status.FAILED:
            raise ReportFailed(report.error or "the report could not be computed")
        if report.status != AgreementReport.Status.DONE:
            response = _pending(report)
            response["Location"] = request.build_absolute_uri()
            return response
        return Response(selectors.agreement_report_data_for(access=access, report=report))


class ReportCsvApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="report_csv",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One statistic a line."),
            **REPORT_RESPONSES,
        },
        summary="The agreement report as CSV (owners and observers)",
    )
    def get(self, request, slug: str):
        access, report = _report(request, slug)
        study = access.study
        if report.status != AgreementReport.Status.DONE:
            return _pending(report)
        text = report_csv(selectors.agreement_report_data_for(access=access, report=report))
        audit_export(study=study, actor=request.user, export="agreement.csv", text=text, via="api")
        return csv_response(text, filename=f"{study.slug}-agreement.csv")


# --- consensus and adjudication ------------------------------------------------------------------


class ConsensusSerializer(serializers.Serializer):
    case_id = serializers.CharField(source="public_id")
    filename = serializers.CharField()
    n_raters = serializers.IntegerField()
    consensus = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Per total: mean (or median) of the raters' current totals.",
    )
    spread = serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="Max - min per total.")
    adjudicated = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
    final = serializers.DictField(child=serializers.FloatField(allow_null=True))
    final_source = serializers.ChoiceField(choices=["consensus", "adjudicated"])
    needs_adjudication = serializers.BooleanField()


class ConsensusApi(APIView):
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        needs_adjudication = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="true: the adjudication queue."
        )

    @extend_schema(
        operation_id="consensus_list",
        parameters=[FilterSerializer],
        responses={200: ConsensusSerializer(many=True), **errors(400, 404)},
        summary="Consensus and final score per case; which cases wait for adjudication (owners, adjudicators)",
    )
    def get(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.study_consensus(study=access.study)
        wanted = query.validated_data.get("needs_adjudication")
        if wanted is not None:
            rows = [row for row in rows if row.needs_adjudication == wanted]
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        data = ConsensusSerializer(page, many=True).data
        if reads_cases_blind(access):  # a blind adjudicator knows a case by its id only
            for row in data:
                row["filename"] = ""
        return paginator.get_paginated_response(data)


class ConsensusCsvApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="exports_consensus_csv",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One case a line."), **errors(404)},
        summary="Consensus per case as CSV (owners, adjudicators)",
    )
    def get(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
        study = access.study
        text = consensus_csv(study=study, blind=reads_cases_blind(access))
        audit_export(study=study, actor=request.user, export="consensus.csv", text=text, via="api")
        return csv_response(text, filename=f"{study.slug}-consensus.csv")


class AdjudicationSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    adjudicator = serializers.CharField(source="adjudicator.username")
    values = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    totals = serializers.DictField(child=serializers.IntegerField())
    note = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class AdjudicationApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class RaterRatingSerializer(serializers.Serializer):
            rater = serializers.CharField()
            values = serializers.DictField(child=serializers.IntegerField(allow_null=True))
            totals = serializers.DictField(child=serializers.IntegerField())

        case_id = serializers.CharField(source="case.public_id")
        filename = serializers.CharField(source="case.original_filename")
        consensus = ConsensusSerializer(allow_null=True, help_text="null while the case has no current rating.")
        ratings = RaterRatingSerializer(many=True, help_text="Each rater's current scores.")
        latest = AdjudicationSerializer(allow_null=True, help_text="The current final score, if any.")
        can_adjudicate = serializers.BooleanField()

    class InputSerializer(serializers.Serializer):
        values = serializers.DictField(
            child=serializers.IntegerField(allow_null=True), help_text="Item key to level, as for a rating."
        )
        note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="adjudications_retrieve",
        responses={200: OutputSerializer, **errors(404)},
        summary="A case's raters' scores, consensus and final score (owners, adjudicators)",
    )
    def get(self, request, slug: str, case_id: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
        study = access.study
        case = get_object_or_404(Case, study=study, public_id=case_id)
        rows = [row for row in selectors.study_consensus(study=study) if row.case_id == case.pk]
        body = {
            "case": case,
            "consensus": rows[0] if rows else None,
            "ratings": selectors.case_ratings_for_adjudicator(case=case),
            "latest": case.adjudications.select_related("adjudicator").last(),
            "can_adjudicate": access.may(Ability.ADJUDICATE),
        }
        data = self.OutputSerializer(body).data
        if study.adjudication_blind:  # as on the adjudication page: blind for whoever adjudicates
            data["filename"] = ""
            if data["consensus"]:
                data["consensus"]["filename"] = ""
            if data["latest"]:
                data["latest"]["adjudicator"] = ""
        return Response(data)

    @extend_schema(
        operation_id="adjudications_record",
        request=InputSerializer,
        responses={201: AdjudicationSerializer, **errors(400, 404, 409)},
        summary="Record a final score for the case; the raters' own scores stay untouched (adjudicators)",
    )
    def post(self, request, slug: str, case_id: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.ADJUDICATE).study
        case = get_object_or_404(Case, study=study, public_id=case_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        adjudication = annotation_services.adjudication_record(
            case=case, adjudicator=request.user, **data.validated_data
        )
        return Response(AdjudicationSerializer(adjudication).data, status=status.HTTP_201_CREATED)


class ScoresCsvApi(FileResponseMixin, APIView):
    schema_tag = "cases"  # listed with the other exports

    @extend_schema(
        operation_id="exports_scores_csv",
        responses={(200, "text/csv"): CSV, **errors(404, 409)},
        summary="filename,geographic_mean,opacity_mean as in the published file, then the final values "
        "(adjudicated where there is one) and final_source; excluded cases left out (owners; cohen2020 and ralo)",
    )
    def get(self, request, slug: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        text = scores_covid_severity_export(study=study)
        audit_export(study=study, actor=request.user, export="covid-severity-scores.csv", text=text, via="api")
        return csv_response(text, filename=f"{study.slug}-covid-severity-scores.csv")
