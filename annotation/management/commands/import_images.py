from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.audit import audit_import
from annotation.ingest import MetadataError, metadata_parse, sources_from_paths
from annotation.management.commands._common import import_report_write, study_by_slug
from annotation.services import StudyStateError, images_import, import_limits


class Command(BaseCommand):
    help = "Import PNG, JPEG and DICOM files, folders and zip archives into a study, with optional metadata."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument(
            "--metadata", type=Path, help="a metadata.csv in the collection's format (column 'filename')"
        )

    def handle(self, *args, slug, paths, metadata, **options):
        study = study_by_slug(slug)
        rows = None
        if metadata:
            try:
                rows = metadata_parse(metadata.read_bytes())
            except (OSError, MetadataError) as exc:
                raise CommandError(f"{metadata}: {exc}") from None
        try:
            report = images_import(
                study=study, sources=sources_from_paths(paths, limits=import_limits()), metadata=rows
            )
        except StudyStateError as exc:
            raise CommandError(str(exc)) from None
        audit_import(study=study, actor=None, rows=[row.as_dict() for row in report.rows], via="command line")
        import_report_write(self, report)
