from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import study_by_slug
from annotation.services.dicomweb import DicomwebError, archive_from_settings
from scoring.services.sr_export import study_sr_export, study_sr_send, study_sr_written


class Command(BaseCommand):
    help = (
        "Export each scored case's final score (adjudicated, else the consensus) and, with --per-rater, each "
        "rater's scores as DICOM Comprehensive SR (TID 1500) referring to the case's image: STOW-RS to an "
        "archive (--stow URL; DICOMWEB_USERNAME/DICOMWEB_PASSWORD) and/or a zip (--out). docs/dicom.md lists the codes."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--stow",
            nargs="?",
            const="",
            default=None,
            metavar="URL",
            help="the archive's DICOMweb root (without one: DICOMWEB_URL)",
        )
        parser.add_argument("--out", type=Path, default=None, help="a zip file to write the reports to")
        parser.add_argument("--per-rater", action="store_true", help="one report per rater too")
        parser.add_argument(
            "--blind",
            action="store_true",
            help="name raters by their study labels (Rater A, ...); the default in a blind-adjudication study",
        )

    def handle(self, *args, slug, stow, out, per_rater, blind, **options):
        if stow is None and out is None:
            raise CommandError("say where the reports go: --stow URL, --out FILE.zip, or both")
        study = study_by_slug(slug)
        export = study_sr_export(study=study, per_rater=per_rater, blind=blind or study.adjudication_blind)
        for line in export.skipped:
            self.stdout.write(f"skipped   {line}")
        if out is not None:
            out.write_bytes(study_sr_written(study=study, export=export))
            self.stdout.write(f"wrote {len(export.documents)} reports to {out}")
        if stow is not None:
            try:
                archive = archive_from_settings(url=stow)
                stored = study_sr_send(study=study, export=export, archive=archive)
            except DicomwebError as exc:
                raise CommandError(f"the reports were not stored: {exc}") from None
            self.stdout.write(self.style.SUCCESS(f"stored {stored} reports in {archive.shown}"))
