from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import study_by_slug
from scoring.management.commands._jobs import report_job
from scoring.model.heads import FEATURE_SETS
from scoring.models import ModelJob
from scoring.services import ModelStateError, model_job_start
from scoring.services.retrain import retrain_execute


class Command(BaseCommand):
    help = (
        "Evaluate (50 patient-grouped 50/50 splits, next to the active version refitted on the same splits) "
        "and fit a new head on the raters' consensus."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--features", required=True, choices=FEATURE_SETS)
        parser.add_argument("--ridge", type=float, default=None, help="ridge penalty (default: ordinary least squares)")
        parser.add_argument(
            "--group-by-case",
            action="store_true",
            help="accept splits grouped by case where cases have no patient id (else the retrain refuses)",
        )
        parser.add_argument("--sync", action="store_true", help="run here and now, without a broker or worker")

    def handle(self, *args, slug, features, ridge, group_by_case, sync, **options):
        study = study_by_slug(slug)
        try:
            job = model_job_start(
                study=study,
                kind=ModelJob.Kind.RETRAIN,
                feature_set=features,
                ridge_alpha=ridge,
                group_by_case=group_by_case,
                dispatch=not sync,
            )
        except ModelStateError as exc:
            raise CommandError(str(exc)) from None
        if sync:
            retrain_execute(job_id=job.pk)
        report_job(self, job)
