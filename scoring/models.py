from django.conf import settings
from django.db import models

from annotation.models import Study


class AgreementReport(models.Model):
    """The agreement report of a study, cached for one `ratings_version` of it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Computing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="agreement_reports")
    ratings_version = models.PositiveIntegerField()
    n_boot = models.PositiveIntegerField(default=1000)
    seed = models.IntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    data = models.JSONField(null=True, blank=True)
    plots = models.JSONField(default=dict, blank=True)  # name -> SVG markup, drawn once per report
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["study", "ratings_version", "n_boot", "seed"], name="report_unique_version"),
        ]

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


class ModelVersion(models.Model):
    """A regression head on a backbone's outputs, for one study. Exactly one is active per study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    backbone = models.CharField(max_length=100)  # torchxrayvision weights name
    feature_set = models.CharField(max_length=20)
    head = models.JSONField()  # scoring.model.heads.LinearHead.to_dict()
    metrics = models.JSONField(default=dict, blank=True)  # the paper-style evaluation, when trained here
    training_cases = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=200, blank=True)  # "published head (Cohen et al. 2020)" or the run
    created_by_job = models.ForeignKey("ModelJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="modelversion_unique_number"),
            models.UniqueConstraint(fields=["study"], condition=models.Q(is_active=True), name="modelversion_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.number} ({self.feature_set})"


class BackboneOutput(models.Model):
    """The backbone's outputs for one image, computed once: heads are re-fitted and re-run on these."""

    image = models.ForeignKey("annotation.Image", on_delete=models.CASCADE, related_name="backbone_outputs")
    backbone = models.CharField(max_length=100)
    logits = models.BinaryField()  # float32 x 18, raw (op_threshs = None)
    features = models.BinaryField()  # float32 x 1024, pooled
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "backbone"], name="backboneoutput_unique")]


class Prediction(models.Model):
    case = models.ForeignKey("annotation.Case", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    values = models.JSONField()  # target -> score
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "model_version"], name="prediction_unique")]


class ModelJob(models.Model):
    """A pre-score or retrain run: progress for the owner's page, failures with their reason."""

    class Kind(models.TextChoices):
        PRESCORE = "prescore", "Pre-score"
        RETRAIN = "retrain", "Retrain"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="model_jobs")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=40, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One retrain per study at a time, enforced by the database.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(kind="retrain", status__in=["queued", "running"]),
                name="modeljob_one_retrain",
            ),
        ]

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
