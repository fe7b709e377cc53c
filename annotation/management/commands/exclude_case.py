from django.core.management.base import BaseCommand, CommandError

from annotation import services
from annotation.management.commands._common import study_by_slug
from core.errors import InvalidInput, StateConflict


class Command(BaseCommand):
    help = (
        "Leave a case out of every analysis (kept with its reads, marked in the exports), or bring it "
        "back with --restore. The case is named by its original filename."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("filename")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--reason", help="why the case is excluded (kept with it and in the audit trail)")
        group.add_argument("--restore", action="store_true", help="bring an excluded case back")

    def handle(self, *args, slug, filename, reason, restore, **options):
        study = study_by_slug(slug)
        case = study.cases.filter(original_filename=filename).first()
        if case is None:
            raise CommandError(f"study {slug!r} has no case named {filename!r}")
        try:
            if restore:
                services.case_restore(case=case, actor=None)
            else:
                services.case_exclude(case=case, reason=reason, actor=None)
        except (InvalidInput, StateConflict) as exc:
            raise CommandError(str(exc)) from None
        state = "restored to the analyses" if restore else f"excluded from the analyses ({reason.strip()})"
        self.stdout.write(f"{filename}: {state}")
