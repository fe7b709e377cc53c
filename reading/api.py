"""The rater's side: their own queue, one assignment at a time, their own scores and flags.

Everything here comes from the rater selectors (RaterCase and the rater_* rows): opaque assignment
ids, the position in the rater's own order and their own values. Never the case's id, filename or
metadata, never another rater's scores or existence. Anything not theirs is a 404.
"""

from collections.abc import Mapping
from functools import partial

import django_filters
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import services
from annotation.models import Assignment, Rating, Study
from annotation.permissions import Ability, study_access_get
from annotation.services.ratings import (
    CLIENT_KEY,
    CLIENT_KEY_ERROR,
    READING_TIME_ERROR,
    client_key_valid,
    reading_time_valid,
)
from core.api import FileResponseMixin, errors
from core.http import png_response
from reading import selectors

SCHEMA_TAG = "reading"
VALUES_HELP = 'Item key to level, e.g. {"extent_right": 2, ...}; see /rubrics/. null for an item not scored.'


class RaterCaseSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Your opaque assignment id (another rater's differs).")
    study = serializers.SlugField(source="study_slug")
    study_title = serializers.CharField()
    study_status = serializers.ChoiceField(choices=Study.Status.choices)
    read_only = serializers.BooleanField(help_text="True unless the study is open.")
    rubric = serializers.CharField(source="rubric.key")
    position = serializers.IntegerField(help_text="1-based, in your own order.")
    queue_length = serializers.IntegerField()
    done = serializers.IntegerField()
    values = serializers.DictField(
        child=serializers.IntegerField(allow_null=True), allow_null=True, help_text="Your current scores, or null."
    )
    revision = serializers.IntegerField(help_text="How many revisions you stored.")
    flag_reason = serializers.CharField(allow_blank=True)
    flag_note = serializers.CharField(allow_blank=True)
    previous_id = serializers.CharField(allow_null=True)
    next_id = serializers.CharField(allow_null=True)
    upcoming_id = serializers.CharField(allow_null=True, help_text="Your first other case not yet done.")
    display_width = serializers.IntegerField()
    display_height = serializers.IntegerField()
    image_url = serializers.SerializerMethodField()
    # An aided read only, as on the reading page; absent from an unaided read (blinding).
    aided = serializers.BooleanField(required=False, help_text="Present, and true, for an aided read only.")
    model_hint = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        required=False,
        allow_null=True,
        help_text='Aided read: the active model\'s pre-score, e.g. {"geographic_extent": 4.4, "opacity": 2.75}; '
        "null while none can be served (the case cannot be scored until it is).",
    )
    model_version = serializers.IntegerField(
        source="model_version_number",
        required=False,
        allow_null=True,
        help_text="Aided read: the number of the model version whose pre-score this is; send it back as "
        "`model_version_shown` with the scores.",
    )
    prelabel_values = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        required=False,
        allow_null=True,
        help_text="Pre-labelling read (`prelabel` study): the model's pre-score spread over the items, the values "
        "to start from; confirm or change them and send them as `values`. Present only once the pre-score is served.",
    )
    MODEL_FIELDS = ("aided", "model_hint", "model_version", "prelabel_values")

    def get_image_url(self, case: selectors.RaterCase) -> str:
        url = reverse("api:assignment-image", kwargs={"assignment_id": case.public_id})
        return self.context["request"].build_absolute_uri(url)

    def to_representation(self, case: selectors.RaterCase) -> dict:
        # Written out rather than through the fields: DRF deep-copies every declared field of a
        # serializer each time one is made (~1.5 ms of CPU for this one), and this answer is half of
        # every rater's loop (bench/load_ratings.py). The fields above still describe it (the schema),
        # and tests/test_api_rater_case_answer_is_what_its_fields_describe.py holds the two equal.
        data = {
            "id": str(case.public_id),
            "study": str(case.study_slug),
            "study_title": str(case.study_title),
            "study_status": str(case.study_status),
            "read_only": bool(case.read_only),
            "rubric": str(case.rubric.key),
            "position": int(case.position),
            "queue_length": int(case.queue_length),
            "done": int(case.done),
            "values": _levels(case.values),
            "revision": int(case.revision),
            "flag_reason": str(case.flag_reason),
            "flag_note": str(case.flag_note),
            "previous_id": _text_or_none(case.previous_id),
            "next_id": _text_or_none(case.next_id),
            "upcoming_id": _text_or_none(case.upcoming_id),
            "display_width": int(case.display_width),
            "display_height": int(case.display_height),
            "image_url": self.get_image_url(case),
            "aided": bool(case.aided),
            "model_hint": None
            if case.model_hint is None
            else {str(k): None if v is None else float(v) for k, v in case.model_hint.items()},
            "model_version": None if case.model_version_number is None else int(case.model_version_number),
            "prelabel_values": _levels(case.prelabel_values),
        }
        return self._blinded(case, data)

    def fields_representation(self, case: selectors.RaterCase) -> dict:
        """The same answer through the declared fields, as DRF writes it (for the tests)."""
        return self._blinded(case, super().to_representation(case))

    def _blinded(self, case: selectors.RaterCase, data: dict) -> dict:
        if not case.aided:
            for name in self.MODEL_FIELDS:
                del data[name]
        elif case.prelabel_values is None:
            del data["prelabel_values"]  # only in a pre-labelling study's reads
        return data


def _levels(values: dict | None) -> dict | None:
    return None if values is None else {str(k): None if v is None else int(v) for k, v in values.items()}


def _text_or_none(value) -> str | None:
    return None if value is None else str(value)


def rater_case_data(request, public_id: str, *, writing: bool = False) -> dict:
    case = selectors.rater_case_get(user=request.user, public_id=public_id, writing=writing)
    return RaterCaseSerializer(case, context={"request": request}).data


class QueueNextApi(APIView):
    @extend_schema(
        operation_id="queue_next",
        responses={200: RaterCaseSerializer, 204: OpenApiResponse(description="Nothing left to read."), **errors(404)},
        summary="Your first case neither scored nor flagged, in your own order (raters)",
    )
    def get(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.RATE)
        case = selectors.rater_next_case(user=request.user, access=access)
        if case is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(RaterCaseSerializer(case, context={"request": request}).data)


class QueueFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=[("todo", "todo"), ("scored", "scored"), ("flagged", "flagged")])
    ordering = django_filters.OrderingFilter(fields=(("order_key", "position"), "completed_at"))

    class Meta:
        model = Assignment
        fields = ["state"]


class QueueMineApi(generics.ListAPIView):
    queryset = Assignment.objects.none()  # names the model for the schema; rows: get_queryset()
    filterset_class = QueueFilter

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField(source="public_id")
        position = serializers.IntegerField(source="queue_position", help_text="1-based, in your own order.")
        state = serializers.ChoiceField(choices=["todo", "scored", "flagged"])
        values = serializers.DictField(child=serializers.IntegerField(allow_null=True), allow_null=True)
        totals = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
        revision = serializers.IntegerField(allow_null=True, help_text="Of your current scores.")
        flag_reason = serializers.CharField(allow_blank=True)
        flag_note = serializers.CharField(allow_blank=True)
        completed_at = serializers.DateTimeField(allow_null=True)

    serializer_class = OutputSerializer

    def get_queryset(self):
        study = study_access_get(user=self.request.user, slug=self.kwargs["slug"], ability=Ability.RATE).study
        return selectors.rater_queue_rows(user=self.request.user, study=study)

    @extend_schema(
        operation_id="queue_mine",
        responses={200: OutputSerializer(many=True), **errors(400, 404)},
        summary="Your own cases in your own order, with your own scores (raters)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AssignmentApi(APIView):
    @extend_schema(
        operation_id="assignments_retrieve",
        responses={200: RaterCaseSerializer, **errors(404)},
        summary="One of your cases with its place in your queue (raters)",
    )
    def get(self, request, assignment_id: str):
        return Response(rater_case_data(request, assignment_id))


class AssignmentImageApi(FileResponseMixin, APIView):
    @extend_schema(
        operation_id="assignments_image",
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="8-bit PNG, no metadata"),
            **errors(404),
        },
        summary="The image to score: no filename, no metadata (raters)",
    )
    def get(self, request, assignment_id: str):
        return png_response(selectors.rater_display_image_path(user=request.user, public_id=assignment_id))


class RatingSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    values = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    totals = serializers.DictField(child=serializers.IntegerField())
    reading_time_s = serializers.FloatField(allow_null=True)
    source = serializers.ChoiceField(choices=Rating.Source.choices)
    created_at = serializers.DateTimeField()

    def to_representation(self, rating: Rating | Mapping) -> dict:
        # Written out, as RaterCaseSerializer's: the answer to every save, and DRF deep-copies the
        # declared fields for each serializer made. They still describe it (the schema), and
        # tests/test_api_rating_answer_is_what_its_fields_describe.py holds the two equal.
        get = rating.__getitem__ if isinstance(rating, Mapping) else partial(getattr, rating)  # a row or a rating
        reading_time_s = get("reading_time_s")
        return {
            "revision": int(get("revision")),
            "values": _levels(get("values")),
            "totals": _levels(get("totals")),
            "reading_time_s": None if reading_time_s is None else float(reading_time_s),
            "source": str(get("source")),
            "created_at": _DATETIME.to_representation(get("created_at")),
        }

    def fields_representation(self, rating: Rating | Mapping) -> dict:
        """The same answer through the declared fields, as DRF writes it (for the tests)."""
        return super().to_representation(rating)


# As a DateTimeField writes a datetime (ISO 8601 in the current time zone, UTC as "Z").
_DATETIME = serializers.DateTimeField()


class AssignmentRatingsApi(generics.ListAPIView):
    queryset = Rating.objects.none()  # names the model for the schema; rows: get_queryset()
    serializer_class = RatingSerializer

    class SubmitInputSerializer(serializers.Serializer):
        values = serializers.DictField(child=serializers.IntegerField(allow_null=True), help_text=VALUES_HELP)
        reading_time_s = serializers.FloatField(required=False, allow_null=True, help_text="Seconds, 0 to 24 hours.")
        client_key = serializers.RegexField(
            CLIENT_KEY,
            required=False,
            allow_blank=True,
            help_text="Idempotency key (or send an Idempotency-Key header): a retry with the same key and body stores "
            "nothing new and returns the first revision; the same key with another body is a 422.",
        )
        model_version_shown = serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text="Aided read (required): the `model_version` whose pre-score you were served. Unaided: leave out.",
        )

        def validate_reading_time_s(self, value: float | None) -> float | None:
            if value is not None and not reading_time_valid(value):
                raise serializers.ValidationError(READING_TIME_ERROR)
            return value

    def get_queryset(self):
        return selectors.rater_ratings_rows(user=self.request.user, public_id=self.kwargs["assignment_id"])

    @extend_schema(
        operation_id="ratings_list",
        responses={200: RatingSerializer(many=True), **errors(404)},
        summary="Every revision of your own scores for this case (raters)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="ratings_submit",
        request=SubmitInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Same as `client_key`; up to 64 printable ASCII characters.",
            )
        ],
        responses={
            201: RatingSerializer,
            200: OpenApiResponse(RatingSerializer, description="A retry: stored before."),
            **errors(400, 404, 409, 422),
        },
        summary="Store a new revision of your scores; earlier ones are kept (raters)",
    )
    def post(self, request, assignment_id: str):
        assignment = selectors.assignment_get_for_rater(user=request.user, public_id=assignment_id, writing=True)
        data = self.SubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client_key = _client_key(request, data.validated_data.get("client_key", ""))
        shown = selectors.model_version_shown_check(
            assignment=assignment, number=data.validated_data.get("model_version_shown")
        )
        # Whether this was a retry is decided under the assignment's row lock, in the service.
        rating, created = services.rating_store(
            assignment=assignment,
            values=data.validated_data["values"],
            reading_time_s=data.validated_data.get("reading_time_s"),
            source=Rating.Source.API,
            client_key=client_key,
            model_version_shown=shown,
            prelabel_values=selectors.prelabel_values_served(assignment=assignment, version=shown),
        )
        return Response(
            RatingSerializer(rating).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _client_key(request, from_body: str) -> str:
    header = request.headers.get("Idempotency-Key", "")
    if header and not client_key_valid(header):
        raise serializers.ValidationError({"Idempotency-Key": [CLIENT_KEY_ERROR]})
    if header and from_body and header != from_body:
        raise serializers.ValidationError({"client_key": ["differs from the Idempotency-Key header"]})
    return header or from_body


class AssignmentFlagApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = serializers.ChoiceField(choices=Assignment.FlagReason.choices)
        note = serializers.CharField(
            max_length=500, required=False, allow_blank=True, default="", help_text="Required for `other`."
        )

    @extend_schema(
        operation_id="assignments_flag",
        request=InputSerializer,
        responses={200: RaterCaseSerializer, **errors(400, 404, 409)},
        summary="Flag the case instead of scoring it (raters)",
    )
    def post(self, request, assignment_id: str):
        assignment = selectors.assignment_get_for_rater(user=request.user, public_id=assignment_id, writing=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.assignment_flag(assignment=assignment, **data.validated_data)
        return Response(rater_case_data(request, assignment_id, writing=True))
