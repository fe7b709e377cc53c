import json

from django.core.management.base import BaseCommand, CommandError
from django.template.loader import render_to_string

from annotation.audit import audit_export
from annotation.management.commands._common import study_by_slug
from annotation.models import Study
from scoring.models import DEFAULT_BOOTSTRAP
from scoring.report_formats import figures_by_total, report_csv
from scoring.selectors import study_score_table
from scoring.services import agreement_report_build, agreement_report_plots


class Command(BaseCommand):
    help = "Inter-rater agreement of a study (every total and item) as JSON, CSV or a standalone HTML page."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["json", "csv", "html"], default="json")
        parser.add_argument(
            "--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, help="bootstrap resamples for CIs (0: none)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, slug, format, bootstrap, seed, **options):
        if bootstrap < 0:
            raise CommandError("--bootstrap must be 0 or more")
        study = study_by_slug(slug)
        table = study_score_table(study=study)
        data = agreement_report_build(study=study, table=table, n_boot=bootstrap, seed=seed)
        if format == "json":
            self.stdout.write(json.dumps(data, indent=2, allow_nan=False))
        elif format == "csv":
            self.stdout.write(report_csv(data), ending="")
        else:
            self.stdout.write(self._html(study, table, data))
        audit_export(study=study, actor=None, export=f"agreement.{format}", via="command line")

    def _html(self, study: Study, table, data: dict) -> str:
        rubric = study.rubric_definition
        return render_to_string(
            "scoring/report_standalone.html",
            {
                "study": study,
                "data": data,
                "totals": rubric.totals,
                "items": rubric.items,
                "figures_by_total": figures_by_total(agreement_report_plots(table=table, data=data)),
            },
        )
