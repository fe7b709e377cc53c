"""Studies (create, configure, open, lock), their members and roles, and the rubrics.

The same rules as the study pages: any user may create a study; owners and observers read it; only
owners change it; raters and outsiders get 404 for everything here except their own list of studies.
"""

import django_filters
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_by_name
from accounts.services import link_expiry
from accounts.validators import MAX_LENGTH, validate_member_name
from annotation import selectors, services
from annotation.analysis_plan import PRIMARY_METRIC_CHOICES
from annotation.models import Study, StudyMembership
from annotation.permissions import GIVEN_ROLES, Ability, may_create_studies, study_access_get
from annotation.rubrics import RUBRIC_CHOICES, RUBRICS
from core.api import errors
from core.errors import InvalidInput

SCHEMA_TAG = "studies"
Role = StudyMembership.Role


class StudyDetailSerializer(serializers.Serializer):
    """A study as its owners and observers see it: settings and per-rater counts, never scores."""

    class ProgressSerializer(serializers.Serializer):
        username = serializers.CharField()
        assigned = serializers.IntegerField()
        scored = serializers.IntegerField()
        flagged = serializers.IntegerField()

    slug = serializers.SlugField(source="study.slug")
    title = serializers.CharField(source="study.title")
    rubric = serializers.ChoiceField(source="study.rubric", choices=RUBRIC_CHOICES)
    raters_per_case = serializers.IntegerField(source="study.raters_per_case")
    status = serializers.ChoiceField(source="study.status", choices=Study.Status.choices)
    consensus_method = serializers.ChoiceField(source="study.consensus_method", choices=Study.Consensus.choices)
    adjudication_range = serializers.IntegerField(source="study.adjudication_range")
    bootstrap_raters = serializers.ChoiceField(
        source="study.bootstrap_raters",
        choices=Study.BootstrapRaters.choices,
        help_text="The agreement report's intervals: fixed (cases resampled) or random (cases and raters, "
        "two-way), for readers like these.",
    )
    created_at = serializers.DateTimeField(source="study.created_at")
    opened_at = serializers.DateTimeField(source="study.opened_at", allow_null=True)
    locked_at = serializers.DateTimeField(source="study.locked_at", allow_null=True)
    role = serializers.ChoiceField(source="membership.role", choices=Role.choices, help_text="Your role in the study.")
    n_cases = serializers.IntegerField()
    progress = ProgressSerializer(many=True)
    model_assistance = serializers.ChoiceField(
        source="study.model_assistance",
        choices=Study.ModelAssistance.choices,
        help_text="Whether raters see the active model's pre-score; `none`: never.",
    )
    crossover_gap = serializers.IntegerField(
        source="study.crossover_gap", help_text="Crossover studies: other cases between a rater's two reads of a case."
    )
    queue_order = serializers.ChoiceField(
        source="study.queue_order",
        choices=Study.QueueOrder.choices,
        help_text="Each rater's queue: seeded random (always in a blinded study), or by the model (shown and "
        "prelabel studies): least certain pre-score, or largest expected disagreement, first.",
    )
    repeat_fraction = serializers.FloatField(
        source="study.repeat_fraction",
        help_text="Intra-rater reliability: the fraction of each rater's cases they read a second time, "
        "unannounced, after the washout; 0: no repeat reads.",
    )
    repeat_washout_days = serializers.IntegerField(
        source="study.repeat_washout_days", help_text="Repeat reads: days after the first read."
    )
    repeat_washout_cases = serializers.IntegerField(
        source="study.repeat_washout_cases",
        help_text="Repeat reads: other reads after the first read, as far as the rater's queue allows.",
    )
    primary_metric = serializers.ChoiceField(
        source="study.primary_metric",
        choices=PRIMARY_METRIC_CHOICES,
        help_text="The pre-specified primary metric, reported first; empty: none pre-specified.",
    )
    primary_score = serializers.CharField(
        source="study.primary_score", help_text="The rubric total the primary metric applies to; empty: none."
    )
    auto_promote = serializers.BooleanField(
        source="study.auto_promote",
        help_text="A retrained version becomes active when the paired comparison with the active one, both "
        "refitted on the same splits, says it is better (docs/model.md).",
    )
    burned_in_annotation = serializers.ChoiceField(
        source="study.burned_in_annotation",
        choices=Study.BurnedIn.choices,
        help_text="DICOM images with BurnedInAnnotation YES: refused, or imported and marked for the owner.",
    )
    adjudication_blind = serializers.BooleanField(
        source="study.adjudication_blind",
        help_text="Adjudicators see the raters as Rater A, B, ... and no filename.",
    )


def study_detail_data(study: Study, membership: StudyMembership) -> dict:
    return StudyDetailSerializer(
        {
            "study": study,
            "membership": membership,
            "n_cases": study.cases.count(),
            "progress": selectors.study_rater_progress(study=study),
        }
    ).data


class StudyFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    status = django_filters.ChoiceFilter(field_name="study__status", choices=Study.Status.choices)
    rubric = django_filters.ChoiceFilter(field_name="study__rubric", choices=RUBRIC_CHOICES)
    ordering = django_filters.OrderingFilter(
        fields=(("study__created_at", "created_at"), ("study__title", "title"), ("study__slug", "slug"))
    )

    class Meta:
        model = StudyMembership
        fields = ["role", "status", "rubric"]


class StudiesApi(generics.ListAPIView):
    queryset = StudyMembership.objects.none()  # names the model for the schema; rows: get_queryset()
    filterset_class = StudyFilter

    class ListOutputSerializer(serializers.Serializer):
        slug = serializers.SlugField(source="study.slug")
        title = serializers.CharField(source="study.title")
        rubric = serializers.CharField(source="study.rubric")
        status = serializers.ChoiceField(source="study.status", choices=Study.Status.choices)
        created_at = serializers.DateTimeField(source="study.created_at")
        role = serializers.ChoiceField(choices=Role.choices)
        can_adjudicate = serializers.BooleanField()
        done = serializers.IntegerField(source="n_done", help_text="A rater's own cases done; else the study's.")
        total = serializers.IntegerField(source="n_total")

    class CreateInputSerializer(serializers.Serializer):
        slug = serializers.SlugField(max_length=64, help_text="Short name used in URLs and the CLI.")
        title = serializers.CharField(max_length=200)
        rubric = serializers.ChoiceField(choices=RUBRIC_CHOICES, default="cohen2020")
        raters_per_case = serializers.IntegerField(min_value=1, max_value=50, default=3)

        def validate_slug(self, value: str) -> str:
            value = value.lower()
            if Study.objects.filter(slug=value).exists():
                raise serializers.ValidationError("a study with this short name already exists")
            return value

    serializer_class = ListOutputSerializer

    def get_queryset(self):
        return selectors.study_memberships_for_user(user=self.request.user)

    @extend_schema(
        operation_id="studies_list",
        responses={200: ListOutputSerializer(many=True), **errors(400)},
        summary="Your studies, with your role and progress",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="studies_create",
        request=CreateInputSerializer,
        responses={201: StudyDetailSerializer, **errors(400, 403)},
        summary="Create a study; you become its owner (coordinators)",
    )
    def post(self, request):
        # 403 before the input is read: a non-coordinator learns nothing, not even which slugs are taken.
        if not may_create_studies(request.user):
            raise PermissionDenied("only coordinators create studies")
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            study = services.study_create(owner=request.user, **data.validated_data)
        except IntegrityError:  # created at the same moment by someone else
            raise serializers.ValidationError({"slug": ["a study with this short name already exists"]}) from None
        membership = study.memberships.get(user=request.user)
        return Response(study_detail_data(study, membership), status=status.HTTP_201_CREATED)


class StudyApi(APIView):
    class UpdateInputSerializer(serializers.Serializer):
        title = serializers.CharField(max_length=200, required=False)
        rubric = serializers.ChoiceField(choices=RUBRIC_CHOICES, required=False)
        raters_per_case = serializers.IntegerField(min_value=1, max_value=50, required=False)
        consensus_method = serializers.ChoiceField(choices=Study.Consensus.choices, required=False)
        adjudication_range = serializers.IntegerField(min_value=1, max_value=48, required=False)
        bootstrap_raters = serializers.ChoiceField(
            choices=Study.BootstrapRaters.choices, required=False, help_text="Any time."
        )
        model_assistance = serializers.ChoiceField(
            choices=Study.ModelAssistance.choices, required=False, help_text="Only while a draft."
        )
        crossover_gap = serializers.IntegerField(
            min_value=0, max_value=1000, required=False, help_text="Only while a draft."
        )
        queue_order = serializers.ChoiceField(
            choices=Study.QueueOrder.choices,
            required=False,
            help_text="Any time; by the model (uncertainty, disagreement) only with model assistance shown "
            "or prelabel.",
        )
        repeat_fraction = serializers.FloatField(
            min_value=0, max_value=1, required=False, help_text="Only while a draft; not with crossover or prelabel."
        )
        repeat_washout_days = serializers.IntegerField(
            min_value=0, max_value=3650, required=False, help_text="Only while a draft."
        )
        repeat_washout_cases = serializers.IntegerField(
            min_value=0, max_value=3650, required=False, help_text="Only while a draft."
        )
        primary_metric = serializers.ChoiceField(
            choices=PRIMARY_METRIC_CHOICES, required=False, allow_blank=True, help_text="Only while a draft."
        )
        primary_score = serializers.CharField(
            max_length=32,
            required=False,
            allow_blank=True,
            help_text="A total of the study's rubric; only while a draft, and with primary_metric.",
        )
        auto_promote = serializers.BooleanField(required=False)
        burned_in_annotation = serializers.ChoiceField(choices=Study.BurnedIn.choices, required=False)
        adjudication_blind = serializers.BooleanField(required=False)

    @extend_schema(
        operation_id="studies_retrieve",
        responses={200: StudyDetailSerializer, **errors(404)},
        summary="A study's settings and per-rater progress (owners and observers)",
    )
    def get(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
        study, membership = access.study, access.membership
        return Response(study_detail_data(study, membership))

    @extend_schema(
        operation_id="studies_update",
        request=UpdateInputSerializer,
        responses={200: StudyDetailSerializer, **errors(400, 404, 409)},
        summary="Change settings (owners); rubric, raters per case and model assistance only while a draft",
    )
    def patch(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY)
        study, membership = access.study, access.membership
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        current = {field: getattr(study, field) for field in self.UpdateInputSerializer().fields}
        services.study_update(study=study, actor=request.user, **{**current, **data.validated_data})
        return Response(study_detail_data(study, membership))


class StudyOpenApi(APIView):
    class OutputSerializer(serializers.Serializer):
        assignments_made = serializers.IntegerField()
        study = StudyDetailSerializer()

    @extend_schema(
        operation_id="studies_open",
        request=None,
        responses={200: OutputSerializer, **errors(404, 409)},
        summary="Open the study to its raters and assign every case (owners)",
    )
    def post(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY)
        study, membership = access.study, access.membership
        made = services.study_open(study=study, actor=request.user)
        return Response({"assignments_made": made, "study": study_detail_data(study, membership)})


class StudyLockApi(APIView):
    @extend_schema(
        operation_id="studies_lock",
        request=None,
        responses={200: StudyDetailSerializer, **errors(404)},
        summary="Lock the study: no rating, flag, import or adjudication changes anything after this (owners)",
    )
    def post(self, request, slug: str):
        access = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY)
        study, membership = access.study, access.membership
        services.study_lock(study=study, actor=request.user)
        return Response(study_detail_data(study, membership))


# --- members -------------------------------------------------------------------------------------


class MemberSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The membership's opaque id.")
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)
    can_adjudicate = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class MemberFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    ordering = django_filters.OrderingFilter(fields=(("user__username", "username"), "role", "created_at"))

    class Meta:
        model = StudyMembership
        fields = ["role", "can_adjudicate"]


class MembersApi(generics.ListAPIView):
    queryset = StudyMembership.objects.none()  # names the model for the schema; rows: get_queryset()
    filterset_class = MemberFilter
    serializer_class = MemberSerializer

    class AddInputSerializer(serializers.Serializer):
        username = serializers.CharField(
            max_length=MAX_LENGTH,
            validators=[validate_member_name],
            help_text="A username, or an e-mail address: someone new gets an invitation by e-mail (coordinators).",
        )
        role = serializers.ChoiceField(choices=GIVEN_ROLES, default=Role.RATER)

    def get_queryset(self):
        study = study_access_get(user=self.request.user, slug=self.kwargs["slug"], ability=Ability.MANAGE_STUDY).study
        return selectors.study_members(study=study)

    @extend_schema(
        operation_id="members_list",
        responses={200: MemberSerializer(many=True), **errors(404)},
        summary="Members and their roles (owners)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="members_add",
        request=AddInputSerializer,
        responses={201: MemberSerializer, **errors(400, 403, 404, 409)},
        summary="Add a member or change their role (owners); someone new is invited by e-mail (coordinators)",
        description="The answer is the same whether the account existed or was made now: an existing account "
        "is told by e-mail, a new one gets an invitation to set its own password (`members/<id>/invitation/` "
        "issues a new link). No answer ever carries a password.",
    )
    def post(self, request, slug: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        data = self.AddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        added = services.member_add(
            study=study,
            name=data.validated_data["username"],
            role=data.validated_data["role"],
            actor=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        return Response(MemberSerializer(added.membership).data, status=status.HTTP_201_CREATED)


class MemberApi(APIView):
    class UpdateInputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=GIVEN_ROLES, required=False)
        can_adjudicate = serializers.BooleanField(required=False, help_text="Never for a rater of the study.")

    @extend_schema(
        operation_id="members_update",
        request=UpdateInputSerializer,
        responses={200: MemberSerializer, **errors(400, 404, 409)},
        summary="Change a member's role or adjudicator right (owners)",
    )
    def patch(self, request, slug: str, member_id: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():  # both changes or neither
            if "role" in data.validated_data:
                membership = services.membership_add(
                    study=study, user=membership.user, role=data.validated_data["role"], actor=request.user
                )
            if "can_adjudicate" in data.validated_data:
                allowed = data.validated_data["can_adjudicate"]
                membership = services.membership_set_adjudicator(
                    study=study, user=membership.user, allowed=allowed, actor=request.user
                )
        return Response(MemberSerializer(membership).data)


class RaterRemovedSerializer(serializers.Serializer):
    reads_done = serializers.IntegerField(help_text="Their finished reads, kept on record.")
    ratings_kept = serializers.BooleanField(help_text="Whether those reads stay in the analysis.")
    withdrawn = serializers.IntegerField(help_text="Their unread assignments, withdrawn.")
    reassigned = serializers.IntegerField(help_text="Reads given to other raters for the cases that lost one.")


class MemberRemovalApi(APIView):
    class InputSerializer(serializers.Serializer):
        keep_ratings = serializers.BooleanField(default=False, help_text="Keep their finished reads in the analysis.")

    @extend_schema(
        operation_id="members_remove_rater",
        request=InputSerializer,
        responses={200: RaterRemovedSerializer, **errors(400, 404, 409)},
        summary="Take a rater off the study; their unread cases go to the other raters (owners)",
        description="The rater loses access. Their finished reads stay on record and count in the analysis only "
        "with keep_ratings. 409 for a member who is not a rater, or a locked study.",
    )
    def post(self, request, slug: str, member_id: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.rater_remove(
            study=study, user=membership.user, keep_ratings=data.validated_data["keep_ratings"], actor=request.user
        )
        return Response(RaterRemovedSerializer(result).data)


class MemberReplacementApi(APIView):
    class InputSerializer(serializers.Serializer):
        new = serializers.CharField(max_length=MAX_LENGTH, help_text="Username or e-mail of an existing account.")
        keep_ratings = serializers.BooleanField(default=True, help_text="Keep the leaver's finished reads.")

    class OutputSerializer(serializers.Serializer):
        removed = RaterRemovedSerializer()
        new_rater = MemberSerializer()
        moved = serializers.IntegerField(help_text="Reads the new rater received.")

    @extend_schema(
        operation_id="members_replace_rater",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 404, 409)},
        summary="Put another account in a rater's place: it takes their unread cases (owners)",
        description="400 when nobody has that name (invite them first); 409 for a member who is not a rater, a "
        "newcomer who may not rate (an adjudicator), or a locked study.",
    )
    def post(self, request, slug: str, member_id: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = user_by_name(name=data.validated_data["new"])
        if new is None:
            raise InvalidInput(f"nobody is called {data.validated_data['new']!r} here: invite them as a member first")
        result = services.rater_replace(
            study=study,
            old=membership.user,
            new=new,
            keep_ratings=data.validated_data["keep_ratings"],
            actor=request.user,
        )
        body = {"removed": result.removed, "new_rater": result.new_rater, "moved": result.moved}
        return Response(self.OutputSerializer(body).data)


class MemberInvitationApi(APIView):
    class OutputSerializer(serializers.Serializer):
        url = serializers.CharField(help_text="Opens the set-password page; works once. Pass it on to them only.")
        expires_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="members_invitation",
        request=None,
        responses={201: OutputSerializer, **errors(403, 404, 409)},
        summary="A new invitation link for a member who has not set a password yet (coordinators)",
        description="Also e-mailed when the account has an address. 409 once the account has a password.",
    )
    def post(self, request, slug: str, member_id: str):
        study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
        membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
        url = services.member_invitation_renew(
            membership=membership, actor=request.user, base_url=request.build_absolute_uri("/")
        )
        body = self.OutputSerializer({"url": url, "expires_at": link_expiry()}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- rubrics -------------------------------------------------------------------------------------


class RubricsApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            class LevelSerializer(serializers.Serializer):
                value = serializers.IntegerField()
                label = serializers.CharField()
                definition = serializers.CharField()

            key = serializers.CharField()
            label = serializers.CharField()
            group = serializers.CharField()
            levels = LevelSerializer(many=True)
            requires_positive = serializers.CharField(
                allow_null=True, help_text="Scored only when this other item is above 0; else send null."
            )

        class TotalSerializer(serializers.Serializer):
            key = serializers.CharField()
            label = serializers.CharField()
            minimum = serializers.IntegerField()
            maximum = serializers.IntegerField()

        key = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()
        items = ItemSerializer(many=True)
        totals = TotalSerializer(many=True, help_text="Derived on the server from the items.")

    @extend_schema(
        operation_id="rubrics_list",
        responses={200: OutputSerializer(many=True), **errors()},
        summary="Every rubric: its items with each level's definition, and its totals",
    )
    def get(self, request):
        return Response(self.OutputSerializer(RUBRICS.values(), many=True).data)
