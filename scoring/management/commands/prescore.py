from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import study_by_slug
from scoring.management.commands._jobs import report_job
from scoring.models import ModelJob
from scoring.services import ModelStateError, model_job_start
from scoring.services.prescore import prescore_execute


class Command(BaseCommand):
    help = "Pre-score every case of a study with a model version (default: the active one)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--model", type=int, help="model version number (default: the active version)")
        parser.add_argument("--sync", action="store_true", help="run here and now, without a broker or worker")

    def handle(self, *args, slug, model, sync, **options):
        study = study_by_slug(slug)
        version = None
        if model is not None:
            version = study.model_versions.filter(number=model).first()
            if version is None:
                raise CommandError(f"study {slug} has no model version {model}")
        try:
            job = model_job_start(study=study, kind=ModelJob.Kind.PRESCORE, model_version=version, dispatch=not sync)
        except ModelStateError as exc:
            raise CommandError(str(exc)) from None
        if sync:
            prescore_execute(job_id=job.pk)
        report_job(self, job)
