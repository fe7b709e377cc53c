from django.conf import settings
from django.db import models

from annotation.models import Study
from core.models import Job

# Bootstrap resamples for the report's confidence intervals, unless a caller asks for others.
DEFAULT_BOOTSTRAP = 1000


class AgreementReport(Job):
    """The agreement report of a study, cached for one `ratings_version` of it."""

    task_name = "scoring.tasks.agreement_report_run"
    task_kwarg = "report_id"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="agreement_reports")
    ratings_version = models.PositiveIntegerField()
    n_boot = models.PositiveIntegerField(default=DEFAULT_BOOTSTRAP)
    seed = models.IntegerField(default=0)
    data = models.JSONField(null=True, blank=True)
    plots = models.JSONField(default=dict, blank=True)  # name -> SVG markup, drawn once per report

    class Meta(Job.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["study", "ratings_version", "n_boot", "seed"], name="report_unique_version"
            ),
        ]


class ModelVersion(models.Model):
    """A regression head on a backbone's outputs, for one study. Exactly one is active per study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    backbone = models.CharField(max_length=100)  # torchxrayvision weights name
    feature_set = models.CharField(max_length=20)
    head = models.JSONField()  # scoring.model.heads.LinearHead.to_dict()
    metrics = models.JSONField(default=dict, blank=True)  # the paper-style evaluation, when trained here
    training_cases = models.PositiveIntegerField(default=0)
    # SHA-256 of the weights file whose outputs the head was fitted on ("" for `none` and the
    # published head, which any file under the official name serves).
    weights_sha256 = models.CharField(max_length=64, blank=True)
    # backbone identity, environment, feature set, ridge, split seeds, grouping, code version and the
    # training table's hash: scoring/services/retrain.py version_provenance
    provenance = models.JSONField(default=dict, blank=True)
    # [case public id, filename, patient id, {target: final score}] per training case, in fit order
    training_table = models.JSONField(default=list, blank=True)
    promotion = models.JSONField(default=dict, blank=True)  # the paired comparison and its decision
    intervals = models.JSONField(default=dict, blank=True)  # conformal half-widths per target
    source = models.CharField(max_length=200, blank=True)  # "published head (Cohen et al. 2020)" or the run
    created_by_job = models.ForeignKey("ModelJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="modelversion_unique_number"),
            models.UniqueConstraint(
                fields=["study"], condition=models.Q(is_active=True), name="modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} ({self.feature_set})"


class LockedTestSet(models.Model):
    """Cases set aside once, before retraining: no retrain fits or compares on them; a version's error
    on them is computed only when the promotion rule promotes it (scoring/services/retrain.py)."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="locked_test_set")
    cases = models.ManyToManyField("annotation.Case", related_name="+")
    fraction = models.FloatField()
    seed = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class BackboneOutput(models.Model):
    """The backbone's outputs for one image, computed once: heads are re-fitted and re-run on these."""

    image = models.ForeignKey("annotation.Image", on_delete=models.CASCADE, related_name="backbone_outputs")
    backbone = models.CharField(max_length=100)
    # scoring.model.provenance.BackboneIdentity.key: weights bytes, library versions, preprocessing.
    key = models.CharField(max_length=64)
    weights_sha256 = models.CharField(max_length=64)
    logits = models.BinaryField()  # float32 x 18, raw (op_threshs = None)
    features = models.BinaryField()  # float32 x 1024, pooled
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "key"], name="backboneoutput_unique_key")]


class Prediction(models.Model):
    case = models.ForeignKey("annotation.Case", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    values = models.JSONField()  # target -> score
    # Conformal prediction interval per target, [low, high]; owners only, never served to raters.
    intervals = models.JSONField(default=dict, blank=True)
    backbone_key = models.CharField(max_length=64, blank=True)  # the outputs it came from; "" for `none`
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "model_version"], name="prediction_unique")]


class ModelJob(Job):
    """A pre-score or retrain run: progress for the owner's page, failures with their reason.

    Resumable: a worker that dies mid-job leaves its stored outputs, predictions and version; the
    job claimed again skips what is there.
    """

    resumable = True

    class Kind(models.TextChoices):
        PRESCORE = "prescore", "Pre-score"
        RETRAIN = "retrain", "Retrain"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="model_jobs")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    phase = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(Job.Meta):
        constraints = [
            # One retrain per study at a time, enforced by the database.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(kind="retrain", status__in=["queued", "running"]),
                name="modeljob_one_retrain",
            ),
        ]

    def get_task_name(self) -> str:
        return "scoring.tasks.prescore_study" if self.kind == self.Kind.PRESCORE else "scoring.tasks.retrain_study"


class SaliencyMap(models.Model):
    """Where a model version looks for one target in one case: a PNG overlay on the model's
    224x224 input, computed on the model queue when the case is pre-scored and served as a file."""

    case = models.ForeignKey("annotation.Case", on_delete=models.CASCADE, related_name="saliency_maps")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="saliency_maps")
    target = models.CharField(max_length=40)
    image = models.FileField(upload_to="saliency/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version", "target"], name="saliencymap_unique"),
        ]
