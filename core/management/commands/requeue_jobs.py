from django.core.management.base import BaseCommand

from core.jobs import jobs_requeue


class Command(BaseCommand):
    help = (
        "Send again the import, model and report jobs still QUEUED after --older-than seconds (the broker was "
        "down when they were created). Tasks claim their job with a conditional update: a job sent twice runs once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=300,
            metavar="SECONDS",
            help="only jobs queued at least this long ago (default 300)",
        )
        parser.add_argument(
            "--include-running",
            action="store_true",
            help="also import, pre-score and retrain jobs RUNNING for that long, whose worker died (or whose "
            "broker restarted): they resume from what was stored, each file once. Use an --older-than above "
            "your longest job.",
        )

    def handle(self, *args, older_than, include_running, **options):
        sent = jobs_requeue(older_than_s=older_than, include_running=include_running)
        self.stdout.write(f"{sent} job(s) sent to the broker again")
