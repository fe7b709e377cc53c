"""Cases, image imports, flags, ratings import and exports: owners only, as on the study page.

Filenames, metadata, raters' names and scores live here, so every view starts from the owner's
study (Ability.MANAGE_STUDY): raters, observers and outsiders get 404.
"""

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors, services
from annotation.audit import audit_export
from annotation.csv_io import ratings_csv_export, ratings_csv_import
from annotation.models import Assignment, Case, ImportJob
from annotation.permissions import Ability, study_access_get
from core.api import FileResponseMixin, errors
from core.http import csv_response, png_response

SCHEMA_TAG = "cases"

PNG = OpenApiResponse(OpenApiTypes.BINARY, description="The display image: an 8-bit PNG without metadata.")
CSV = OpenApiResponse(OpenApiTypes.STR, description="CSV, UTF-8, with a header row.")


# --- cases ---------------------------------------------------------------------------------------


class CaseSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The case's opaque id (raters never see it).")
    filename = serializers.CharField(source="original_filename")
    patient_id = serializers.CharField()
    metadata = serializers.DictField(help_text="The row of an uploaded metadata CSV for this file.")
    has_image = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    n_assigned = serializers.IntegerField(help_text="Raters assigned.")
    n_done = serializers.IntegerField(help_text="Of them, scored or flagged.")
    excluded = serializers.SerializerMethodField(help_text="Excluded from every analysis by an owner.")
    exclusion_reason = serializers.CharField(help_text="Why, when excluded.")
    created_at = serializers.DateTimeField()

    def get_excluded(self, case: Case) -> bool:
        return case.excluded_at is not None

    def get_has_image(self, case: Case) -> bool:
        return case.image_id is not None

    def get_image_url(self, case: Case) -> str | None:
        if case.image_id is None:
            return None
        url = reverse("api:case-image", kwargs={"slug": case.study.slug, "case_id": case.public_id})
        return self.context["request"].build_absolute_uri(url)


class CaseFilter(django_filters.FilterSet):
    filename = django_filters.CharFilter(field_name="original_filename", lookup_expr="icontains")
    has_image = django_filters.BooleanFilter(field_name="image", lookup_expr="isnull", exclude=True)
    ordering = django_filters.OrderingFilter(
        fields=("created_at", ("original_filename", "filename"), "patient_id", "n_done")
    )

    class Meta:
        model = Case
        fields = ["filename", "patient_id", "has_image"]


def _owner_cases(request, slug: str):
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    return selectors.study_cases_for_owner(study=study).select_related("study").order_by("pk")


class CasesApi(generics.ListAPIView):
    queryset = Case.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = CaseSerializer
    filterset_class = CaseFilter

    def get_queryset(self):
        return _owner_cases(self.request, self.kwargs["slug"])

    @extend_schema(
        operation_id="cases_list",
        responses={200: CaseSerializer(many=True), **errors(400, 404)},
        summary="Cases with filename, metadata and progress (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CaseApi(APIView):
    @extend_schema(
        operation_id="cases_retrieve",
        responses={200: CaseSerializer, **errors(404)},
        summary="One case with its metadata (owners)",
    )
    def get(self, request, slug: str, case_id: str):
        case = get_object_or_404(_owner_cases(request, slug), public_id=case_id)
        return Response(CaseSerializer(case, context={"request": request}).data)

    @extend_schema(
        operation_id="cases_destroy",
        responses={204: None, **errors(404, 409)},
        summary="Remove a case nobody has rated, and its image files unless another study holds them (owners)",
        description="For an image imported by mistake or one with burned-in text. Refused (409) once a rater "
        "scored or flagged the case, it was adjudicated, or the study is locked.",
    )
    def delete(self, request, slug: str, case_id: str):
        case = get_object_or_404(_owner_cases(request, slug), public_id=case_id)
        services.case_remove(case=case, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseImageApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="cases_image",
        responses={(200, "image/png"): PNG, **errors(404)},
        summary="A case's display image (owners and adjudicators, as on the adjudication page)",
    )
    def get(self, request, slug: str, case_id: str):
        case = selectors.case_get_for_owner(user=request.user, slug=slug, public_id=case_id, ability=Ability.READ_CASES)
        return png_response(case.image.display.name)


class CaseExclusionApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, help_text="Why (kept with the case and in the audit trail).")

    @extend_schema(
        operation_id="cases_exclude",
        request=InputSerializer,
        responses={200: CaseSerializer, **errors(400, 404, 409)},
        summary="Exclude a case from every analysis, with a reason; its reads stay (owners)",
        description="The case stays with its reads, marked in the exports; unread assignments are withdrawn. "
        "409 when it is excluded already or the study is locked.",
    )
    def post(self, request, slug: str, case_id: str):
        case = get_object_or_404(_owner_cases(request, slug), public_id=case_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.case_exclude(case=case, reason=data.validated_data["reason"], actor=request.user)
        return Response(_case_data(request, slug, case_id))

    @extend_schema(
        operation_id="cases_restore",
        responses={200: CaseSerializer, **errors(404, 409)},
        summary="Bring an excluded case back into the analyses, with raters again (owners)",
    )
    def delete(self, request, slug: str, case_id: str):
        case = get_object_or_404(_owner_cases(request, slug), public_id=case_id)
        services.case_restore(case=case, actor=request.user)
        return Response(_case_data(request, slug, case_id))


def _case_data(request, slug: str, case_id: str) -> dict:
    case = get_object_or_404(_owner_cases(request, slug), public_id=case_id)
    return CaseSerializer(case, context={"request": request}).data


# --- imports -------------------------------------------------------------------------------------


class ImportJobSerializer(serializers.Serializer):
    class RowSerializer(serializers.Serializer):
        name = serializers.CharField()
        where = serializers.CharField()
        status = serializers.ChoiceField(choices=["imported", "duplicate", "rejected", "metadata"])
        reason = serializers.CharField(allow_blank=True)

    class CountsSerializer(serializers.Serializer):
        imported = serializers.IntegerField()
        duplicate = serializers.IntegerField()
        rejected = serializers.IntegerField()

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=ImportJob.Status.choices)
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    counts = CountsSerializer(help_text="When done.")
    report = RowSerializer(many=True, help_text="One row per file, with the reason when rejected.")
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_url(self, job: ImportJob) -> str:
        url = reverse("api:import", kwargs={"slug": job.study.slug, "job_id": job.pk})
        return self.context["request"].build_absolute_uri(url)


class ImportJobFilter(django_filters.FilterSet):
    ordering = django_filters.OrderingFilter(fields=("created_at", "finished_at"))

    class Meta:
        model = ImportJob
        fields = ["status"]


class ImportsApi(generics.ListAPIView):
    queryset = ImportJob.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = ImportJobSerializer
    filterset_class = ImportJobFilter
    parser_classes = [MultiPartParser]

    class CreateInputSerializer(serializers.Serializer):
        files = serializers.ListField(
            child=serializers.FileField(),
            allow_empty=False,
            help_text="PNG, JPEG, DICOM or zip archives of them; any .csv with a filename column attaches its "
            "rows (patientid and any other columns) to the cases of those filenames.",
        )

    def get_queryset(self):
        study = study_access_get(user=self.request.user, slug=self.kwargs["slug"], ability=Ability.MANAGE_STUDY).study
        return study.import_jobs.select_related("study")

    @extend_schema(
        operation_id="imports_list",
        responses={200: ImportJobSerializer(many=True), **errors(400, 404)},
        summary="Image imports and their per-file reports (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="imports_create",
        request={"multipart/form-data": CreateInputSerializer},
        responses={202: ImportJobSerializer, **errors(400, 404, 409, 413)},
        summary="Upload images or zip archives; a worker imports them (owners)",
        description="Poll the job's `url` until `status` is `done` or `failed`. Bad files are rejected one by one "
        "with a reason; the rest of the batch imports. Refused whole (413, nothing stored) when the request, a file "
        "in it or the number of files is above its limit, or the study's storage quota would be exceeded.",
    )
    def post(self, request, slug: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_job_create(study=study, user=request.user, files=data.validated_data["files"])
        job.refresh_from_db()  # the worker may have finished already (eager mode)
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ImportApi(APIView):
    @extend_schema(
        operation_id="imports_retrieve",
        responses={200: ImportJobSerializer, **errors(404)},
        summary="An import's status, progress and per-file report (owners)",
    )
    def get(self, request, slug: str, job_id: int):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        job = get_object_or_404(study.import_jobs.select_related("study"), pk=job_id)
        return Response(ImportJobSerializer(job, context={"request": request}).data)


# --- ratings from another tool, flags ------------------------------------------------------------


class RatingsImportApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text="CSV: image, rater, one column per rubric item; optional duration_s, "
            "rated_at (ISO 8601), and aided (1 or 0) in a crossover study. An export_ratings file can be "
            "imported back."
        )
        allow_missing_images = serializers.BooleanField(
            default=False, help_text="Create image-less cases for a past study's images (never shown to raters)."
        )

    class OutputSerializer(serializers.Serializer):
        imported = serializers.IntegerField()

    @extend_schema(
        operation_id="ratings_import",
        request={"multipart/form-data": InputSerializer},
        responses={201: OutputSerializer, **errors(400, 404)},
        summary="Import ratings from a CSV, all or nothing (owners)",
        description="Any bad row refuses the whole file: the error's `fields.file` names every bad line.",
    )
    def post(self, request, slug: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = ratings_csv_import(
            study=study,
            data=data.validated_data["file"].read(),
            allow_missing_images=data.validated_data["allow_missing_images"],
            actor=request.user,
            via="api",
        )
        return Response({"imported": count}, status=status.HTTP_201_CREATED)


class FlagSerializer(serializers.Serializer):
    case_id = serializers.CharField(source="case.public_id")
    filename = serializers.CharField(source="case.original_filename")
    rater = serializers.CharField(source="rater.username")
    reason = serializers.ChoiceField(source="flag_reason", choices=Assignment.FlagReason.choices)
    note = serializers.CharField(source="flag_note", allow_blank=True)
    flagged_at = serializers.DateTimeField()


class FlagFilter(django_filters.FilterSet):
    reason = django_filters.ChoiceFilter(field_name="flag_reason", choices=Assignment.FlagReason.choices)
    rater = django_filters.CharFilter(field_name="rater__username")
    ordering = django_filters.OrderingFilter(fields=("flagged_at",))

    class Meta:
        model = Assignment
        fields = ["reason", "rater"]


class FlagsApi(generics.ListAPIView):
    queryset = Assignment.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = FlagSerializer
    filterset_class = FlagFilter

    def get_queryset(self):
        study = study_access_get(user=self.request.user, slug=self.kwargs["slug"], ability=Ability.MANAGE_STUDY).study
        return selectors.study_flagged_assignments(study=study)

    @extend_schema(
        operation_id="flags_list",
        responses={200: FlagSerializer(many=True), **errors(400, 404)},
        summary="Cases raters flagged instead of scoring, with reason and note (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- exports -------------------------------------------------------------------------------------


class RatingExportSerializer(serializers.Serializer):
    image = serializers.CharField(source="case.original_filename")
    case_id = serializers.CharField(source="case.public_id")
    rater = serializers.CharField(source="rater.username")
    status = serializers.SerializerMethodField()
    revision = serializers.IntegerField(source="current_rating.revision", allow_null=True)
    n_revisions = serializers.IntegerField()
    values = serializers.DictField(source="current_rating.values", allow_null=True)
    totals = serializers.DictField(source="current_rating.totals", allow_null=True)
    duration_s = serializers.FloatField(source="current_rating.reading_time_s", allow_null=True)
    rated_at = serializers.SerializerMethodField()
    flag_reason = serializers.CharField(allow_blank=True)
    flag_note = serializers.CharField(allow_blank=True)

    def get_status(self, assignment: Assignment) -> str:
        return "scored" if assignment.current_rating_id else "flagged"

    def get_rated_at(self, assignment: Assignment) -> str:
        rating = assignment.current_rating
        return serializers.DateTimeField().to_representation(rating.created_at if rating else assignment.flagged_at)


class RatingExportFilter(django_filters.FilterSet):
    rater = django_filters.CharFilter(field_name="rater__username")
    status = django_filters.ChoiceFilter(choices=[("scored", "scored"), ("flagged", "flagged")], method="filter_status")

    class Meta:
        model = Assignment
        fields = ["rater", "status"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(current_rating__isnull=value == "flagged")


class RatingsExportApi(generics.ListAPIView):
    queryset = Assignment.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = RatingExportSerializer
    filterset_class = RatingExportFilter

    def get_queryset(self):
        study = study_access_get(user=self.request.user, slug=self.kwargs["slug"], ability=Ability.MANAGE_STUDY).study
        return selectors.study_completed_assignments(study=study)

    @extend_schema(
        operation_id="exports_ratings_json",
        responses={200: RatingExportSerializer(many=True), **errors(400, 404)},
        summary="Every rater's current score or flag per case, as JSON (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RatingsCsvApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="exports_ratings_csv",
        responses={(200, "text/csv"): CSV, **errors(404)},
        summary="The ratings export as CSV; it can be imported back (owners)",
    )
    def get(self, request, slug: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        text = ratings_csv_export(study=study)
        audit_export(study=study, actor=request.user, export="ratings.csv", text=text, via="api")
        return csv_response(text, filename=f"{study.slug}-ratings.csv")
