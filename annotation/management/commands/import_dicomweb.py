from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import import_report_write, study_by_slug
from annotation.services.dicomweb import DicomwebError, Selection, archive_from_settings, dicomweb_import, query_parse


class Command(BaseCommand):
    help = (
        "Import chest X-rays from a DICOMweb archive (Orthanc, a PACS) into a study: whole studies or series by "
        "UID, studies by accession number, or a query. The password comes from DICOMWEB_PASSWORD only."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--url", default="", help="the archive's DICOMweb root (default: DICOMWEB_URL)")
        parser.add_argument("--username", default=None, help="default: DICOMWEB_USERNAME")
        parser.add_argument("--study-uid", action="append", default=[], dest="study_uids")
        parser.add_argument("--series-uid", action="append", default=[], dest="series_uids")
        parser.add_argument("--accession", action="append", default=[], dest="accession_numbers")
        parser.add_argument(
            "--query",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="modality=CR|DX, patient_id=..., study_date=YYYYMMDD[-YYYYMMDD], accession_number=...",
        )

    def handle(self, *args, slug, url, username, study_uids, series_uids, accession_numbers, query, **options):
        study = study_by_slug(slug)
        try:
            archive = archive_from_settings(url=url, username=username)
            selection = Selection(
                study_uids=tuple(study_uids),
                series_uids=tuple(series_uids),
                accession_numbers=tuple(accession_numbers),
                query=query_parse(query),
            )
            report = dicomweb_import(study=study, archive=archive, selection=selection)
        except DicomwebError as exc:
            raise CommandError(str(exc)) from None
        import_report_write(self, report)
