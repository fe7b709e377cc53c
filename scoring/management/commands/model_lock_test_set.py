from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import study_by_slug
from core.errors import InvalidInput
from scoring.services.model_versions import ModelStateError, locked_test_set_create


class Command(BaseCommand):
    help = (
        "Set aside whole patients, about FRACTION of the study's cases, as a locked test set: no retrain "
        "fits or compares on them; a version's error there is computed only when the promotion rule "
        "promotes it. Once per study."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--fraction", type=float, required=True, help="share of the cases, above 0 and <= 0.5")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, slug, fraction, seed, **options):
        try:
            locked = locked_test_set_create(study=study_by_slug(slug), fraction=fraction, seed=seed)
        except (InvalidInput, ModelStateError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"locked {locked.cases.count()} case(s) of study {slug} as its test set (seed {seed})")
