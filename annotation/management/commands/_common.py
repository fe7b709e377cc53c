from django.core.management.base import BaseCommand, CommandError

from annotation.models import Study


def study_by_slug(slug: str) -> Study:
    try:
        return Study.objects.get(slug=slug)
    except Study.DoesNotExist:
        raise CommandError(f"no study with slug {slug!r}") from None


def import_report_write(command: BaseCommand, report) -> None:
    """An import's rows that were not imported, each with its reason, then the counts."""
    for row in report.rows:
        if row.status != "imported":
            command.stdout.write(f"{row.status:9} {row.where}: {row.reason}")
    command.stdout.write(
        command.style.SUCCESS(
            f"imported {report.count('imported')}, duplicates {report.count('duplicate')}, "
            f"rejected {report.count('rejected')}"
        )
    )
