"""Model versions, pre-score and retrain jobs, predictions: owners only, as on the model page.

The same rules as scoring/views/model.py: every view starts from the owner's study, so raters,
observers and outsiders get 404. Heads, metrics and predictions are model output and predictions
name files: whatever a study's model assistance, a rater never reaches them here.
"""

import django_filters
from django import forms
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.audit import audit_export
from annotation.models import Study
from annotation.permissions import Ability, study_access_get
from core.api import FileResponseMixin, errors
from core.http import csv_response
from scoring import selectors
from scoring.exports import predictions_csv
from scoring.model.heads import FEATURE_SETS
from scoring.models import ModelJob, ModelVersion, Prediction
from scoring.services import model_job_start, model_version_activate, model_version_ensure_initial
from scoring.services.model_versions import ridge_alpha_valid

SCHEMA_TAG = "model"

MAX_NUMBER = 2**31 - 1


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField  # a version number, not a decimal


def _model_study(request, slug: str) -> Study:
    return study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study


# --- model versions ------------------------------------------------------------------------------


class ModelVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    backbone = serializers.CharField(help_text="The torchxrayvision weights the head runs on.")
    feature_set = serializers.ChoiceField(choices=FEATURE_SETS)
    head = serializers.DictField(help_text="The linear head: feature set, coefficients and intercept per target.")
    metrics = serializers.DictField(
        help_text="When trained here: `candidate`, `none` and `active`, each per target "
        "(pearson_r, r2, mae, mse over 50 grouped 50/50 splits); {} for the published head."
    )
    training_cases = serializers.IntegerField()
    weights_sha256 = serializers.CharField(
        allow_blank=True, help_text="SHA-256 of the weights file the head was fitted on ('' for the published head)."
    )
    provenance = serializers.DictField(
        help_text="Backbone identity (weights hash, library and preprocessing versions), feature set, ridge, "
        "split seeds, grouping, code version and the training table's SHA-256."
    )
    training_table = serializers.ListField(
        help_text="Per training case: [case id, filename, patient id, {target: final score}], in fit order."
    )
    promotion = serializers.DictField(
        help_text="The paired comparison with the active version on the same splits, and its decision."
    )
    intervals = serializers.DictField(help_text="Conformal prediction interval half-widths per target, and the level.")
    source = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField(help_text="The version pre-scoring uses by default; one per study.")
    created_at = serializers.DateTimeField()


class ModelVersionFilter(django_filters.FilterSet):
    ordering = django_filters.OrderingFilter(fields=("number", "created_at"))

    class Meta:
        model = ModelVersion
        fields = ["is_active", "feature_set"]


class ModelVersionsApi(generics.ListAPIView):
    queryset = ModelVersion.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter

    def get_queryset(self):
        return selectors.study_model_versions(study=_model_study(self.request, self.kwargs["slug"]))

    @extend_schema(
        operation_id="model_versions_list",
        responses={200: ModelVersionSerializer(many=True), **errors(400, 404)},
        summary="The study's model versions with their evaluation (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _version(request, slug: str, number: int) -> ModelVersion:
    study = _model_study(request, slug)
    return get_object_or_404(selectors.study_model_versions(study=study), number=number)


class ModelVersionApi(APIView):
    @extend_schema(
        operation_id="model_versions_retrieve",
        responses={200: ModelVersionSerializer, **errors(404)},
        summary="One model version (owners)",
    )
    def get(self, request, slug: str, number: int):
        return Response(ModelVersionSerializer(_version(request, slug, number)).data)


class ModelVersionActivateApi(APIView):
    @extend_schema(
        operation_id="model_versions_activate",
        request=None,
        responses={200: ModelVersionSerializer, **errors(404)},
        summary="Make this version the active one: pre-scoring and model-assisted reading use it (owners)",
    )
    def post(self, request, slug: str, number: int):
        model_version_ensure_initial(study=_model_study(request, slug))  # version 1 may be the paper's head
        version = model_version_activate(version=_version(request, slug, number), actor=request.user)
        return Response(ModelVersionSerializer(version).data)


# --- jobs ----------------------------------------------------------------------------------------


class ModelJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(choices=ModelJob.Kind.choices)
    status = serializers.ChoiceField(choices=ModelJob.Status.choices)
    phase = serializers.CharField(allow_blank=True, help_text="backbone, predict, evaluate, fit, done.")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField(help_text="Of the current phase.")
    model_version = serializers.IntegerField(
        source="model_version.number",
        allow_null=True,
        help_text="Pre-score: the version it predicts with; retrain: the version it made, once done.",
    )
    params = serializers.DictField(help_text="Retrain: feature_set, ridge_alpha and group_by_case.")
    result = serializers.DictField(
        help_text="When done. Pre-score: cases, predicted, already_predicted, "
        "saliency_maps (drawn now); retrain: "
        "version, training_cases, promoted."
    )
    error = serializers.CharField(allow_blank=True, help_text="When failed: why (e.g. the weights file is missing).")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_url(self, job: ModelJob) -> str:
        url = reverse("api:model-job", kwargs={"slug": job.study.slug, "model_job_id": job.pk})
        return self.context["request"].build_absolute_uri(url)


class ModelJobFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ModelJob.Kind.choices)
    status = django_filters.ChoiceFilter(choices=ModelJob.Status.choices)
    ordering = django_filters.OrderingFilter(fields=("created_at", "finished_at"))

    class Meta:
        model = ModelJob
        fields = ["kind", "status"]


class ModelJobsApi(generics.ListAPIView):
    queryset = ModelJob.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = ModelJobSerializer
    filterset_class = ModelJobFilter

    class StartInputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ModelJob.Kind.choices)
        model_version = serializers.IntegerField(
            min_value=1,
            max_value=MAX_NUMBER,
            required=False,
            allow_null=True,
            help_text="Pre-score: the version's number; the active version when left out.",
        )
        feature_set = serializers.ChoiceField(
            choices=FEATURE_SETS, required=False, help_text="Retrain (required): what the new head is fitted on."
        )
        ridge_alpha = serializers.FloatField(
            required=False, allow_null=True, help_text="Retrain: a positive ridge penalty; leave out for least squares."
        )
        group_by_case = serializers.BooleanField(
            required=False,
            allow_null=True,
            help_text="Retrain: accept splits grouped by case when some cases have no patient id (else 409).",
        )

        def validate_ridge_alpha(self, value: float | None) -> float | None:
            if not ridge_alpha_valid(value):
                raise serializers.ValidationError("must be a positive number, or null for least squares")
            return value

        def validate(self, data: dict) -> dict:
            retrain = data["kind"] == ModelJob.Kind.RETRAIN
            if retrain and "feature_set" not in data:
                raise serializers.ValidationError({"feature_set": ["required to retrain"]})
            other = ("model_version",) if retrain else ("feature_set", "ridge_alpha", "group_by_case")
            for field in other:
                if data.get(field) is not None:
                    raise serializers.ValidationError({field: [f"not for a {data['kind']} job"]})
            return data

    def get_queryset(self):
        return selectors.study_model_jobs(study=_model_study(self.request, self.kwargs["slug"]))

    @extend_schema(
        operation_id="model_jobs_list",
        responses={200: ModelJobSerializer(many=True), **errors(400, 404)},
        summary="Pre-score and retrain jobs with status and progress (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="model_jobs_start",
        request=StartInputSerializer,
        responses={202: ModelJobSerializer, **errors(400, 404, 409)},
        summary="Start a pre-score or a retrain; the model worker runs it (owners)",
        description="Poll the job's `url` until `status` is `done` or `failed` (`error` says why). A pre-score "
        "predicts every case with an image; a retrain evaluates and fits a new head on the raters' final scores "
        "and stores it as a new, inactive version. 409 (`model_state`): no model version to pre-score with, or a "
        "retrain of this study is already queued or running.",
    )
    def post(self, request, slug: str):
        study = _model_study(request, slug)
        data = self.StartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model_version_ensure_initial(study=study)  # version 1, the paper's head, is made on first use
        options = {key: value for key, value in data.validated_data.items() if value is not None}
        if "model_version" in options:
            number = options["model_version"]
            options["model_version"] = selectors.study_model_versions(study=study).filter(number=number).first()
            if options["model_version"] is None:
                raise serializers.ValidationError({"model_version": [f"this study has no model version {number}"]})
        job = model_job_start(study=study, user=request.user, **options)
        job.refresh_from_db()  # the worker may have finished already (eager mode)
        body = ModelJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ModelJobApi(APIView):
    @extend_schema(
        operation_id="model_jobs_retrieve",
        responses={200: ModelJobSerializer, **errors(404)},
        summary="A job's status, progress, result or error (owners)",
    )
    def get(self, request, slug: str, model_job_id: int):
        jobs = selectors.study_model_jobs(study=_model_study(request, slug))
        job = get_object_or_404(jobs, pk=model_job_id)
        return Response(ModelJobSerializer(job, context={"request": request}).data)


# --- predictions ---------------------------------------------------------------------------------


class PredictionSerializer(serializers.Serializer):
    case_id = serializers.CharField(source="case.public_id")
    filename = serializers.CharField(source="case.original_filename")
    model_version = serializers.IntegerField(source="model_version.number")
    values = serializers.DictField(child=serializers.FloatField(), help_text="Per total of the rubric: the prediction.")
    intervals = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="Per total: [low, high], the version's conformal prediction interval; {} when it has none.",
    )
    created_at = serializers.DateTimeField()


class PredictionFilter(django_filters.FilterSet):
    model_version = IntegerFilter(field_name="model_version__number")
    case_id = django_filters.CharFilter(field_name="case__public_id")
    ordering = django_filters.OrderingFilter(
        fields=(("case__original_filename", "filename"), ("model_version__number", "model_version"), "created_at")
    )

    class Meta:
        model = Prediction
        fields = ["model_version", "case_id"]


class PredictionsApi(generics.ListAPIView):
    queryset = Prediction.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter

    def get_queryset(self):
        return selectors.study_prediction_rows(study=_model_study(self.request, self.kwargs["slug"]))

    @extend_schema(
        operation_id="predictions_list",
        responses={200: PredictionSerializer(many=True), **errors(400, 404)},
        summary="Every stored prediction, per case and model version (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PredictionsCsvApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="exports_predictions_csv",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="filename,model_version,<total>,..."),
            **errors(404),
        },
        summary="Every stored prediction as CSV (owners)",
    )
    def get(self, request, slug: str):
        study = _model_study(request, slug)
        text = predictions_csv(study=study)
        audit_export(study=study, actor=request.user, export="predictions.csv", text=text, via="api")
        return csv_response(text, filename=f"{study.slug}-predictions.csv")
