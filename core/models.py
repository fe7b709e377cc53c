"""The one job lifecycle: imports, agreement reports and model jobs are all rows of this shape.

A job row is the truth; the Celery message only says "run job N". See core/jobs.py for claiming,
progress, finishing and requeueing.
"""

from typing import ClassVar

from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # How many times a worker claimed it: more than one after a worker died and it was resumed.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The Celery task that runs a job of this kind (by name: the web process never imports worker
    # code) and the keyword it takes the job's id by.
    task_name: ClassVar[str] = ""
    task_kwarg: ClassVar[str] = "job_id"
    # Whether a RUNNING job may be claimed again after its worker died: only when the work resumes
    # from what was stored instead of starting over.
    resumable: ClassVar[bool] = False

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def get_task_name(self) -> str:
        return self.task_name

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
