from django.core.management.base import BaseCommand, CommandError

from scoring.agreement.planning import ALPHA_LEVELS, METRICS, study_plan


class Command(BaseCommand):
    help = "How many cases a reliability study needs for a 95% CI of a given half-width (reads no study)."

    def add_arguments(self, parser):
        parser.add_argument("--metric", choices=METRICS, required=True)
        parser.add_argument("--expected", type=float, required=True, help="the ICC or alpha you expect")
        parser.add_argument("--raters", type=int, required=True, help="raters scoring every case")
        parser.add_argument("--half-width", type=float, required=True, help="largest acceptable CI half-width")
        parser.add_argument(
            "--assurance", type=float, default=0.5, help="ICC: probability the CI is that narrow (0.5: expected)"
        )
        parser.add_argument("--level", choices=ALPHA_LEVELS, default="ordinal", help="alpha: the data's level")
        parser.add_argument("--categories", type=int, default=4, help="alpha: ordinal categories")
        parser.add_argument("--seed", type=int, default=0, help="alpha: simulation seed")

    def handle(self, *args, metric, expected, raters, half_width, assurance, level, categories, seed, **options):
        common = {"expected": expected, "raters": raters, "half_width": half_width}
        if metric == "icc":
            extra = {"assurance": assurance}
        else:
            extra = {"level": level, "categories": categories, "seed": seed}
        try:
            plan = study_plan(metric=metric, **common, **extra)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"cases needed: {plan.cases}")
        self.stdout.write(f"method: {plan.method}")
        for line in plan.assumptions:
            self.stdout.write(f"assumes: {line}")
