import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotation.rubrics import RUBRIC_CHOICES, rubric_get
from core.models import Job


def new_public_id() -> str:
    # Opaque and unguessable: the id in a URL says nothing about the file, the study or the order.
    return secrets.token_urlsafe(12)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        LOCKED = "locked", "Locked"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    rubric = models.CharField(max_length=32, choices=RUBRIC_CHOICES, default="cohen2020")
    raters_per_case = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)

    class Consensus(models.TextChoices):
        MEAN = "mean", "Mean of the raters' totals (as in the paper)"
        MEDIAN = "median", "Median of the raters' totals"

    consensus_method = models.CharField(max_length=8, choices=Consensus.choices, default=Consensus.MEAN)

    class BootstrapRaters(models.TextChoices):
        FIXED = "fixed", "These raters: resample cases (readers fixed)"
        RANDOM = "random", "Raters like them: resample cases and raters (readers random, two-way)"

    # What the agreement report's confidence intervals generalise to (scoring/agreement/bootstrap.py).
    bootstrap_raters = models.CharField(max_length=8, choices=BootstrapRaters.choices, default=BootstrapRaters.FIXED)
    # A case whose raters' current totals span this many points or more on any total goes to
    # adjudication.
    adjudication_range = models.PositiveSmallIntegerField(default=3)
    # Bumped by every change to ratings, flags or adjudications: the cached agreement report is
    # valid for exactly one value of it.
    ratings_version = models.PositiveIntegerField(default=0)

    class ModelAssistance(models.TextChoices):
        NONE = "none", "None: raters never see model output"
        SHOWN = "shown", "Shown: raters see the active model's pre-score"
        CROSSOVER = "crossover", "Crossover: each case read twice, unaided and aided"
        PRELABEL = "prelabel", "Pre-label: raters start from the model's scores and confirm or correct them"

    model_assistance = models.CharField(max_length=10, choices=ModelAssistance.choices, default=ModelAssistance.NONE)
    # Crossover: at least this many other cases between a rater's two reads of a case.
    crossover_gap = models.PositiveSmallIntegerField(default=5)

    class QueueOrder(models.TextChoices):
        RANDOM = "random", "Seeded random order (always, in a blinded study)"
        UNCERTAINTY = "uncertainty", "Least certain pre-score first"
        DISAGREEMENT = "disagreement", "Largest expected disagreement first"

    # Only a study whose raters see the model (shown, prelabel) may order its queues by the model;
    # a blinded reader study keeps each rater's seeded random order.
    queue_order = models.CharField(max_length=12, choices=QueueOrder.choices, default=QueueOrder.RANDOM)
    # Repeat reads for intra-rater reliability: this fraction of each rater's cases is presented to
    # them a second time, unannounced, once both washouts have passed since their first read.
    repeat_fraction = models.FloatField(default=0.0)
    repeat_washout_days = models.PositiveSmallIntegerField(default=14)
    repeat_washout_cases = models.PositiveSmallIntegerField(default=20)
    # The pre-specified primary analysis, fixed before the study opens, reported first: a metric
    # name (scoring/agreement) and the total it applies to (blank: none pre-specified).
    primary_metric = models.CharField(max_length=32, blank=True)
    primary_score = models.CharField(max_length=32, blank=True)
    # Promote a newly trained model by itself when the paired comparison on the same splits says it
    # is better (scoring/model/compare.py).
    auto_promote = models.BooleanField(default=False)

    class BurnedIn(models.TextChoices):
        REJECT = "reject", "Refuse them (text in the pixels may name the patient)"
        FLAG = "flag", "Import them and mark them for the owner"

    # DICOM images that say BurnedInAnnotation YES: what an import does with them.
    burned_in_annotation = models.CharField(max_length=8, choices=BurnedIn.choices, default=BurnedIn.REJECT)
    # Adjudicators see the raters' scores without their names and the case without its filename, so
    # that who scored what (a senior reader, a known file) does not sway the final score.
    adjudication_blind = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(raters_per_case__gte=1), name="study_raters_per_case_positive"),
            models.CheckConstraint(
                condition=Q(repeat_fraction__gte=0) & Q(repeat_fraction__lte=1), name="study_repeat_fraction_0_1"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def rubric_definition(self):
        return rubric_get(self.rubric)

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.LOCKED

    @property
    def model_in_view(self) -> bool:
        """Raters see the model's output in every read (`shown`, `prelabel`): not a blinded reader
        study, so its queues may be ordered by the model (`queue_order`)."""
        return self.model_assistance in (self.ModelAssistance.SHOWN, self.ModelAssistance.PRELABEL)


class StudyMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        RATER = "rater", "Rater"
        OBSERVER = "observer", "Observer"
        # A rater taken off the study: no access, no new cases; their reads stay on record.
        REMOVED = "removed", "Removed rater"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    # The id in URLs and the API: says nothing about how many members the site has.
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    role = models.CharField(max_length=8, choices=Role.choices)
    # Chosen by an owner; never a rater of the same study, who would see the others' scores.
    can_adjudicate = models.BooleanField(default=False)
    # Once an adjudicator, always one for the rules: someone who has read every rater's scores in a
    # study can never become its rater, even after the right is taken back.
    was_adjudicator = models.BooleanField(default=False)
    # The seed of this rater's case order, kept so the order can be reproduced and reported.
    queue_seed = models.BigIntegerField(default=0)
    # A removed rater: when, and whether the owner kept their reads in the analysis.
    removed_at = models.DateTimeField(null=True, blank=True)
    ratings_kept = models.BooleanField(default=False)
    # The rater's queue in numbers, kept by annotation/services/queues.py so that the reading page
    # reads them instead of counting a queue that may be 100,000 cases long: the reads with an
    # image (what the rater sees) and those of them done (scored or flagged).
    queue_total = models.PositiveIntegerField(default=0)
    queue_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} of {self.study}"


class Image(models.Model):
    """Pixel data, stored once per content hash of the original file."""

    sha256 = models.CharField(max_length=64, unique=True)
    original = models.FileField(upload_to="originals/")
    display = models.FileField(upload_to="display/")
    source_format = models.CharField(max_length=8)
    bit_depth = models.PositiveSmallIntegerField()
    width = models.PositiveIntegerField()  # of the original
    height = models.PositiveIntegerField()
    display_width = models.PositiveIntegerField()
    display_height = models.PositiveIntegerField()
    # The original's size, for the studies' storage quota.
    original_bytes = models.PositiveBigIntegerField(default=0)
    # The DICOM said BurnedInAnnotation YES: text, perhaps identifying, is part of the pixels.
    burned_in_annotation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256[:12]


class Case(models.Model):
    """One image in one study. Filename and metadata are for owners only (see selectors)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cases")
    # Null for a past reader study imported without its images: such cases are never shown to raters.
    image = models.ForeignKey(Image, on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    original_filename = models.CharField(max_length=255)
    patient_id = models.CharField(max_length=128, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The DICOM instance the image came from (a DICOM upload or a DICOMweb import; empty otherwise):
    # a structured report of the case's scores refers to it (scoring/dicom_sr.py). Owners only.
    dicom_study_uid = models.CharField(max_length=64, blank=True)
    dicom_series_uid = models.CharField(max_length=64, blank=True)
    dicom_sop_instance_uid = models.CharField(max_length=64, blank=True)
    dicom_sop_class_uid = models.CharField(max_length=64, blank=True)
    # Excluded by an owner (a wrong view, a duplicate): kept with its reads, left out of every
    # analysis and marked in the exports; restoring it brings it back.
    excluded_at = models.DateTimeField(null=True, blank=True)
    exclusion_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["study", "image"], name="case_unique_image"),
            models.UniqueConstraint(fields=["study", "original_filename"], name="case_unique_filename"),
        ]

    def __str__(self) -> str:
        return self.public_id


class Assignment(models.Model):
    """A case given to one rater. The rater's queue is ordered by order_key (seeded per rater)."""

    class FlagReason(models.TextChoices):
        NOT_ASSESSABLE = "not_assessable", "Not assessable (quality)"
        WRONG_VIEW = "wrong_view", "Wrong view (not a frontal chest X-ray)"
        NOT_CHEST = "not_chest", "Not a chest X-ray"
        OTHER = "other", "Other"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    # Raters see their own opaque id per assignment, so two raters cannot tell they share a case.
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    order_key = models.BigIntegerField()
    # 1-based place in the rater's queue (order_key order, reads with an image only; None for a read
    # of an image-less case), kept by annotation/services/queues.py whenever the queue changes.
    position = models.PositiveIntegerField(null=True, blank=True)
    # An aided read shows the active model's pre-score (model-assisted studies only).
    aided = models.BooleanField(default=False)
    # A repeat read of a case the rater has read before (intra-rater reliability); never announced to
    # the rater, never part of the inter-rater analysis. Held back until the first read is done and
    # both washouts have passed: available_at (a time) and available_after_done (the rater's count
    # of reads done), both set when the first read is done.
    repeat = models.BooleanField(default=False)
    available_at = models.DateTimeField(null=True, blank=True)
    available_after_done = models.PositiveIntegerField(null=True, blank=True)
    current_rating = models.OneToOneField("Rating", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    flag_reason = models.CharField(max_length=16, choices=FlagReason.choices, blank=True)
    flag_note = models.CharField(max_length=500, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "rater", "aided", "repeat"], name="assignment_unique_read")
        ]
        indexes = [
            models.Index(fields=["study", "rater", "completed_at", "order_key"], name="assignment_queue"),
            # A case's place in the rater's own order (reading/selectors.py): the count of the keys
            # before it and its neighbours are read from this index alone, never from the rows.
            models.Index(fields=["study", "rater", "order_key"], name="assignment_rank"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_flagged(self) -> bool:
        return bool(self.flag_reason)


class Rating(models.Model):
    """One revision of a rater's scores for an assignment. Append-only: never updated."""

    class Source(models.TextChoices):
        WEB = "web", "Reading page"
        IMPORT = "import", "Imported"
        API = "api", "API"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="ratings")
    revision = models.PositiveIntegerField()
    values = models.JSONField()
    totals = models.JSONField()
    reading_time_s = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    # In a model-assisted study: which model version's pre-score the rater saw while scoring.
    model_version_shown = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A pre-labelling read: the item values the rater started from (the model's pre-score spread over
    # the items), so that what the rater changed is on record. Null for every other read.
    prelabel_values = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    # An API client's idempotency key: a retried submission with the same key returns the stored
    # revision instead of adding another. Empty for the reading page and imports.
    client_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["assignment", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "revision"], name="rating_unique_revision"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="rating_revision_positive"),
            models.UniqueConstraint(
                fields=["assignment", "client_key"], condition=~Q(client_key=""), name="rating_unique_client_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment} r{self.revision}"


class ImportJob(Job):
    """A web upload, imported by a Celery worker; the per-file report is kept for the owner."""

    task_name = "annotation.tasks.import_job_run"
    # A worker that dies mid-import leaves the report of the files it handled: claimed again, the
    # job goes on after them (annotation/services/imports.py).
    resumable = True

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    upload_dir = models.CharField(max_length=255)
    # What the upload holds until the job ends: counted against the study's storage quota meanwhile.
    upload_bytes = models.PositiveBigIntegerField(default=0)
    # An import from the DICOMweb archive of the settings instead of an upload (upload_dir empty): what
    # to fetch (annotation/services/dicomweb.py, Selection). Never credentials: they stay in the settings.
    dicomweb_selection = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=list, blank=True)

    def counts(self) -> dict[str, int]:
        out = {"imported": 0, "duplicate": 0, "rejected": 0}
        for row in self.report:
            out[row["status"]] = out.get(row["status"], 0) + 1
        return out


class Adjudication(models.Model):
    """A final score for a case whose raters disagree. Append-only; the raters' ratings are untouched."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="adjudications")
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField()
    values = models.JSONField()
    totals = models.JSONField()
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "revision"]
        constraints = [models.UniqueConstraint(fields=["case", "revision"], name="adjudication_unique_revision")]


class AuditEvent(models.Model):
    """Who changed what in a study, and when. Written by the services in the same transaction as
    the change; owners only read it (it names raters)."""

    class Action(models.TextChoices):
        RATING_REVISION = "rating_revision", "Rating revision"
        FLAG = "flag", "Flag"
        ADJUDICATION = "adjudication", "Adjudication"
        MEMBER_ADD = "member_add", "Member added"
        ROLE_CHANGE = "role_change", "Role change"
        ADJUDICATOR_CHANGE = "adjudicator_change", "Adjudicator right"
        OPEN = "open", "Study opened"
        LOCK = "lock", "Study locked"
        MODEL_PROMOTION = "model_promotion", "Model promotion"
        ADMIN_CHANGE = "admin_change", "Changed in the admin"
        CASE_REMOVE = "case_remove", "Case removed"
        CASE_EXCLUDE = "case_exclude", "Case excluded"
        CASE_RESTORE = "case_restore", "Case restored"
        RATER_REMOVE = "rater_remove", "Rater removed"
        RATER_REPLACE = "rater_replace", "Rater replaced"
        ASSIGNMENTS_MOVE = "assignments_move", "Unread cases moved"
        STUDY_CREATE = "study_create", "Study created"
        SETTINGS_CHANGE = "settings_change", "Settings changed"
        IMPORT = "import", "Images imported"
        RATINGS_IMPORT = "ratings_import", "Ratings imported"
        EXPORT = "export", "Export"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="audit_events")
    # Null for the system: a command-line import, an automatic promotion.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True)  # a case public id, a username, a version number
    details = models.JSONField(default=dict, blank=True)
    # A default, not auto_now_add, so that a restored backup keeps the original times.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["study", "created_at"], name="auditevent_study_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"
