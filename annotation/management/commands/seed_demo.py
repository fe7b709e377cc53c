import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.services import coordinator_set
from annotation.ingest import metadata_parse, sources_from_paths
from annotation.models import Study, StudyMembership
from annotation.services import images_import, import_limits, membership_add, study_create, study_open

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_USERS = ["owner", "rater1", "rater2", "rater3"]


class Command(BaseCommand):
    help = (
        "On an empty database: create a demo study (owner, a coordinator, + 3 raters) with six real X-rays, "
        "and print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="seed even if studies exist")
        parser.add_argument(
            "--addr",
            default="",
            help="where the site will be served, as runserver is told (make run passes ADDR: 8000, "
            "127.0.0.1:8000, 0.0.0.0:9000) or a URL; default SITE_URL",
        )

    def handle(self, *args, force, addr, **options):
        url = site_url(addr) if addr else f"{settings.SITE_URL}/"
        logins_file = Path(settings.VAR_DIR) / "demo-logins.txt"
        if (Study.objects.exists() and not force) or get_user_model().objects.filter(username__in=DEMO_USERS).exists():
            self.stdout.write("database already has studies: no demo seeded")
            if logins_file.exists():
                self.stdout.write(
                    f"demo logins (if unchanged), from {logins_file}, at {url}:\n{logins_file.read_text()}"
                )
            return
        logins = self._seed()
        text = "".join(f"    {username:8} {password}\n" for username, password in logins)
        # Kept beside the local database so a second `make run` can show them again.
        logins_file.write_text(text)
        self.stdout.write(self.style.SUCCESS(f"Demo study 'demo' is open. Log in at {url} as:"))
        self.stdout.write(text)

    @transaction.atomic
    def _seed(self) -> list[tuple[str, str]]:
        User = get_user_model()
        logins = []
        for username in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            User.objects.create_user(username=username, password=password)
            logins.append((username, password))
        owner = User.objects.get(username="owner")
        coordinator_set(user=owner, allowed=True)  # the demo's owner may create more studies
        study = study_create(owner=owner, slug="demo", title="Demo: COVID-19 severity (Cohen 2020)", rubric="cohen2020")
        for username in DEMO_USERS[1:]:
            membership_add(study=study, user=User.objects.get(username=username), role=StudyMembership.Role.RATER)
        images_import(
            study=study,
            sources=sources_from_paths([DEMO_DIR / "images"], limits=import_limits()),
            metadata=metadata_parse((DEMO_DIR / "metadata.csv").read_bytes()),
        )
        study_open(study=study)
        return logins


def site_url(addr: str) -> str:
    """The URL to open for an address as runserver takes it ("8000", "127.0.0.1:8000",
    "0.0.0.0:9000", "[::1]:8000"); a server on every interface is opened on this machine's loopback."""
    if "://" in addr:
        return addr.rstrip("/") + "/"
    host, colon, port = addr.rpartition(":")
    if not colon:
        host, port = "", addr
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--addr {addr!r}: expected a port or host:port, as for runserver")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"http://{host}:{port}/"
