"""Personas and builders shared by the tests (healthchecks style: alice owns, raters read)."""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections
from PIL import Image as PILImage

from annotation.ingest import Source, metadata_parse, sources_from_paths
from annotation.models import StudyMembership
from annotation.services import (
    assignment_flag,
    images_import,
    import_limits,
    membership_add,
    rating_submit,
    study_create,
    study_open,
    study_update,
)

DEMO_DIR = Path(__file__).resolve().parent.parent / "annotation" / "demo"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    cache.clear()  # what one test's pages cached (per report, per ratings version) is not the next one's
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def png_bytes(seed: int = 0, size: tuple[int, int] = (64, 48), mode: str = "L") -> bytes:
    """A small, unique greyscale PNG (different seeds give different content)."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 255, size=(size[1], size[0]), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(array, "L").convert(mode).save(out, format="PNG")
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def image_sources(count: int, *, start: int = 0) -> list[Source]:
    return [
        Source(name=f"img-{i:03d}.png", where=f"img-{i:03d}.png", data=png_bytes(i))
        for i in range(start, start + count)
    ]


@pytest.fixture
def make_user(db):
    def make(username: str):
        return get_user_model().objects.create_user(username=username, password=PASSWORD)

    return make


@pytest.fixture
def personas(make_user):
    """alice (a coordinator) owns the study; rater1-3 rate; olivia observes; oscar is an outsider;
    cora is a coordinator too, and an outsider to alice's study."""
    from accounts.services import coordinator_set

    names = ["alice", "rater1", "rater2", "rater3", "olivia", "oscar", "cora"]
    people = {name: make_user(name) for name in names}
    for name in ("alice", "cora"):
        coordinator_set(user=people[name], allowed=True)
    return people


@pytest.fixture
def make_study(personas):
    def make(
        *,
        n_cases: int = 4,
        rubric: str = "cohen2020",
        raters: tuple[str, ...] = ("rater1", "rater2", "rater3"),
        raters_per_case: int = 3,
        open_it: bool = True,
        slug: str = "s1",
    ):
        study = study_create(
            owner=personas["alice"], slug=slug, title="Study one", rubric=rubric, raters_per_case=raters_per_case
        )
        for name in raters:
            membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
        membership_add(study=study, user=personas["olivia"], role=StudyMembership.Role.OBSERVER)
        if n_cases:
            report = images_import(study=study, sources=image_sources(n_cases))
            assert report.count("imported") == n_cases
        if open_it:
            study_open(study=study)
        study.refresh_from_db()
        return study

    return make


def imported_ratings_study(make_study, *, n_images: int):
    """A draft cohen2020 study of rater1-3 with n_images image-less cases, each scored by all three
    from a CSV import: a past reader study with some (made-up, deterministic) disagreement."""
    from annotation.csv_io import ratings_csv_import

    raters = ("rater1", "rater2", "rater3")
    rows = (
        f"c{i}.png,{rater},{(i // 2 + (r == 2) * (i % 3)) % 5},{(i + r) % 5},{(i // 2) % 4},{(i + r // 2) % 4}"
        for i in range(n_images)
        for r, rater in enumerate(raters)
    )
    header = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n"
    study = make_study(n_cases=0, open_it=False, raters=raters)
    ratings_csv_import(study=study, data=(header + "\n".join(rows)).encode(), allow_missing_images=True)
    study.refresh_from_db()
    return study


def open_repeat_study(make_study, *, fraction: float, days: int, cases: int, n_cases: int, slug: str = "s1"):
    """An open study of `make_study`'s raters with repeat reads: `fraction` of each rater's cases read
    again after `days` and `cases` of washout."""
    study = make_study(n_cases=n_cases, open_it=False, slug=slug)
    study_update(
        study=study,
        title=study.title,
        rubric=study.rubric,
        raters_per_case=study.raters_per_case,
        repeat_fraction=fraction,
        repeat_washout_days=days,
        repeat_washout_cases=cases,
    )
    study_open(study=study)
    study.refresh_from_db()
    return study


@pytest.fixture
def client_for(client, personas):
    from django.test import Client

    def login(name: str) -> Client:
        c = Client()
        c.force_login(personas[name])
        return c

    return login


COHEN_VALUES = {"extent_right": 2, "extent_left": 3, "opacity_right": 1, "opacity_left": 2}
# The settings form of make_study's study as it stands, every required field: a test posts it with
# the one change it is about.
STUDY_SETTINGS_FORM = {
    "title": "Study one",
    "rubric": "cohen2020",
    "raters_per_case": 3,
    "consensus_method": "mean",
    "adjudication_range": 3,
    "model_assistance": "none",
    "crossover_gap": 5,
    "repeat_fraction": 0,
    "repeat_washout_days": 14,
    "repeat_washout_cases": 20,
    "queue_order": "random",
}


# --- the browser tests (helpers in tests/browser_support.py) -------------------------------------

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def browser():
    """Debian's Chromium (`apt-get install chromium`; Playwright's own browser download does not work
    here), driven by Playwright. Without it the test fails under CI=true and is skipped elsewhere."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still
    # synchronous and safe here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # The test's own queries ran while Playwright's event loop was running, so Django keeps
        # their connection in a context it will not close later; PostgreSQL would then refuse to
        # drop the test database.
        connections.close_all()


@pytest.fixture
def demo_study(personas):
    """The six demo X-rays, alice owning, rater1-3 reading; rater2 and rater3 have made a start."""
    from tests.browser_support import _queue  # it imports this module

    study = study_create(owner=personas["alice"], slug="covid", title="COVID-19 severity", rubric="cohen2020")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
    report = images_import(
        study=study,
        sources=sources_from_paths([DEMO_DIR / "images"], limits=import_limits()),
        metadata=metadata_parse((DEMO_DIR / "metadata.csv").read_bytes()),
    )
    assert report.count("imported") == 6
    # Fixed case orders, so that the screenshots show the same cases on every run.
    for seed, name in enumerate(("rater1", "rater2", "rater3"), start=1):
        StudyMembership.objects.filter(study=study, user=personas[name]).update(queue_seed=seed)
    study_open(study=study)
    values = {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1}
    for assignment in _queue(study, "rater2")[:4]:
        rating_submit(assignment=assignment, values=values, reading_time_s=21.0)
    rating_submit(assignment=_queue(study, "rater3")[0], values=values, reading_time_s=30.0)
    assignment_flag(assignment=_queue(study, "rater3")[1], reason="not_assessable", note="rotated, clipped bases")
    return study


@pytest.fixture(scope="session", autouse=True)
def _private_broker(tmp_path_factory, worker_id) -> Path:
    """A broker of this test process's own, so that neither a running `make run` demo nor another
    pytest-xdist process takes its tasks: a private folder for kombu's file-system transport, or,
    on Redis (CI), a database number per xdist process (15, 14, ...). Returns the VAR_DIR that the
    worker processes get, whose celery/broker folder is the private one."""
    from django.conf import settings

    from config.celery import app

    var_dir = tmp_path_factory.mktemp("var")
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        broker = var_dir / "celery" / "broker"
        folders = {
            "data_folder_in": broker,
            "data_folder_out": broker,
            "processed_folder": var_dir / "celery" / "processed",
            "control_folder": var_dir / "celery" / "control",
        }
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, **{k: str(v) for k, v in folders.items()}}
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = app.conf.broker_transport_options = options
    elif url.startswith("redis://"):
        index = int(worker_id[2:]) if worker_id.startswith("gw") else 0
        base, _, db = url.rpartition("/")
        url = f"{base}/{int(db or 0) - index}"
        # Celery reads CELERY_BROKER_URL from the environment before its settings.
        os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = app.conf.broker_url = url
    return var_dir


@pytest.fixture
def start_worker(settings, tmp_path, _private_broker):
    """Start real Celery worker processes on the test database and this process's own broker.

    Returns start(queues, pool="solo", **extra_env) -> (process, log_path); start.env(**extra_env) is the
    environment for other processes (a management command) on the same database. Every worker is
    stopped at the end.
    """
    from django.db import connection

    root = Path(__file__).resolve().parent.parent
    started = []

    def database_url() -> str:
        db = connection.settings_dict
        if db["ENGINE"].endswith("sqlite3"):
            return f"sqlite:///{db['NAME']}"
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    def worker_env(**extra_env: str) -> dict[str, str]:
        """The environment of a process on the test database, media and broker (a worker, a command)."""
        return {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "VAR_DIR": str(_private_broker),
            **extra_env,
        }

    def start(queues: str = "default", *, pool: str = "solo", **extra_env: str):
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = open(log_path, "wb")
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "-Q",
            queues,
            "--loglevel=INFO",
            "--hostname",
            f"test{len(started)}@%h",
        ]
        # A session of its own: the worker and its pool's children are killed together at the end.
        process = subprocess.Popen(
            command,
            cwd=root,
            env=worker_env(**extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((process, log))
        return process, log_path

    start.env = worker_env
    yield start
    for process, log in started:
        # The test is over: no task of it may finish later, so the worker is killed, not asked to
        # shut down warmly (which waits for the broker's polling and takes seconds).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        log.close()


def wait_until(predicate, *, timeout: float = 90, interval: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="session")
def xrv_weights_dir(tmp_path_factory) -> Path:
    """One random DenseNet under the official weights file name, for the tests of the real loading
    path and of the worker processes; loaded once per test session in this process."""
    from tests.model_weights import write_random_weights

    return write_random_weights(tmp_path_factory.mktemp("xrv-cache"))


@pytest.fixture(scope="session")
def _tiny_backbone():
    from tests.fake_backbone import tiny_backbone

    return tiny_backbone()


@pytest.fixture(scope="session")
def _stand_in_weights_dir(tmp_path_factory) -> Path:
    # A file under the official name for the stand-in: cached outputs are keyed by its SHA-256.
    from tests.model_weights import OFFICIAL_FILE

    folder = tmp_path_factory.mktemp("stand-in-weights")
    (folder / OFFICIAL_FILE).write_bytes(b"tests/fake_backbone.py tiny_backbone")
    return folder


@pytest.fixture
def fake_backbone(settings, monkeypatch, _tiny_backbone, _stand_in_weights_dir):
    """Pre-scoring, retraining and saliency maps run on a tiny stand-in backbone (tests/fake_backbone.py)
    instead of loading a DenseNet: for unit tests of the services and views around the model."""
    from scoring.services import backbone_cache

    settings.SCORING_BATCH_SIZE = 4
    settings.SCORING_XRV_CACHE_DIR = str(_stand_in_weights_dir)
    monkeypatch.setattr(backbone_cache, "backbone_get", lambda identity: _tiny_backbone)
    return _tiny_backbone


def rated_chest_study(personas, *, slug: str, n: int, first_seed: int = 0, prefix: str = "img", title: str = ""):
    """A cohen2020 study of n chest-like images ({prefix}-{i}.png, two per patient), fully rated by
    rater1-3 (enough to retrain a head), not opened and not pre-scored."""
    from annotation.csv_io import ratings_csv_import
    from annotation.services import cases_apply_metadata
    from tests.model_weights import chest_png

    study = study_create(owner=personas["alice"], slug=slug, title=title or slug, rubric="cohen2020")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
    names = [f"{prefix}-{i}.png" for i in range(n)]
    sources = [Source(name=name, where=name, data=chest_png(first_seed + i)) for i, name in enumerate(names)]
    assert images_import(study=study, sources=sources).count("imported") == n
    cases_apply_metadata(
        study=study, metadata={name: {"filename": name, "patientid": str(i // 2)} for i, name in enumerate(names)}
    )
    rows = ["image,rater,extent_right,extent_left,opacity_right,opacity_left"]
    for i, name in enumerate(names):
        for r, rater in enumerate(("rater1", "rater2", "rater3")):
            e = (i + r) % 5
            rows.append(f"{name},{rater},{e},{(i * 3 + r) % 5},{min(e, 3)},{(i + 2 * r) % 4}")
    ratings_csv_import(study=study, data="\n".join(rows).encode())
    return study
