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
        parser.add_argument(
            "--raters",
            choices=["fixed", "random"],
            default=None,
            help="fixed: the bootstrap resamples cases (or patients), CIs about these readers; random: it "
            "resamples the raters too (two-way bootstrap), CIs that generalise to readers at large; "
            "default: the study's setting (fixed unless changed)",
        )
        parser.add_argument(
            "--cutoff",
            action="append",
            default=[],
            metavar="SCORE=VALUE",
            help="also report agreement on 'score >= VALUE' (a clinical cut-off); repeat for more",
        )

    def handle(self, *args, slug, format, bootstrap, seed, cutoff, raters, **options):
        if bootstrap < 0:
            raise CommandError("--bootstrap must be 0 or more")
        study = study_by_slug(slug)
        table = study_score_table(study=study)
        cutoffs = _cutoffs(cutoff, [*table.rubric.total_keys, *table.rubric.item_keys])
        data = agreement_report_build(
            study=study, table=table, n_boot=bootstrap, seed=seed, cutoffs=cutoffs, raters=raters
        )
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


def _cutoffs(values: list[str], keys: list[str]) -> dict[str, list[float]]:
    """--cutoff geographic_extent=4 --cutoff geographic_extent=8 -> {"geographic_extent": [4.0, 8.0]}."""
    out: dict[str, list[float]] = {}
    for value in values:
        key, _, number = value.partition("=")
        if key not in keys:
            raise CommandError(f"--cutoff {value}: unknown score {key!r}; the scores are {', '.join(keys)}")
        try:
            out.setdefault(key, []).append(float(number))
        except ValueError:
            raise CommandError(f"--cutoff {value}: the cut-off must be a number") from None
    return out
