"""`seed_demo` prints the address the site is served on, as `make run` tells runserver (ADDR), not
always port 8000; without one, the configured SITE_URL."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def seed(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path

    def run(**options) -> str:
        call_command("seed_demo", **options)
        return capsys.readouterr().out

    return run


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:9000", "http://127.0.0.1:9000/"),
        ("8123", "http://127.0.0.1:8123/"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080/"),  # every interface: opened on this machine's loopback
        ("[::1]:8001", "http://[::1]:8001/"),
        ("https://reader.example.org", "https://reader.example.org/"),
    ],
)
def test_it_prints_the_address_it_was_told(seed, addr, url):
    out = seed(addr=addr)
    assert f"Demo study 'demo' is open. Log in at {url} as:" in out
    assert ":8000" not in out


def test_without_an_address_it_prints_the_site_url(seed, settings):
    settings.SITE_URL = "http://cxr.example.org:8443"
    assert "Log in at http://cxr.example.org:8443/ as:" in seed()


def test_a_second_run_shows_the_logins_again_with_the_address(seed):
    seed(addr="9100")
    out = seed(addr="9100")
    assert "no demo seeded" in out and "at http://127.0.0.1:9100/" in out and "rater1" in out


@pytest.mark.parametrize("addr", ["localhost:http", "127.0.0.1:0", "99999"])
def test_an_address_runserver_would_refuse_is_a_command_error(seed, addr):
    with pytest.raises(CommandError, match="expected a port or host:port"):
        seed(addr=addr)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_tells_seed_demo_and_runserver_the_same_address():
    commands = subprocess.run(
        ["make", "-n", "run", "ADDR=127.0.0.1:9001"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "manage.py seed_demo --addr 127.0.0.1:9001" in commands
    assert "manage.py runserver 127.0.0.1:9001" in commands
