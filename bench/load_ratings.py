"""Load test: 20 raters submitting ratings at once to gunicorn + PostgreSQL, on loopback only.

Creates a throwaway PostgreSQL database on 127.0.0.1:5432, migrates it and seeds an open study
(cohen2020, 3 raters per case, fake image rows: no image is ever opened), starts gunicorn as
docker/compose.yaml does (gthread, 4 threads a process) with 2 processes on a free loopback port
and the production settings (DEBUG=0), then lets N simulated raters read through the REST API for
--seconds: GET queue/next/, POST assignments/<id>/ratings/ with an Idempotency-Key. Some of the
POSTs are sent twice with the same key, as a client does after a lost response; a failed request
is retried with its key. At the end it checks, in the database, that every successful submission
is stored exactly once and that no retry added a revision. gunicorn is stopped and the database
dropped whatever happens.

    .venv/bin/python bench/load_ratings.py [--seconds 120] [--raters 20] [--cases 20000]
    .venv/bin/python bench/load_ratings.py --baseline bba8f21 [--rounds 2] [--seconds 60]
    .venv/bin/python bench/load_ratings.py --baseline bba8f21 --worker-class sync --workers 5

With --baseline, the same run is made against the code of that revision (unpacked with git archive
into a temporary folder, served from there with this virtualenv) and against this tree, alternately
(--rounds times each, baseline first), and the two are printed side by side with their ratios.
Each run starts with --warmup seconds of the same load, untimed (a fresh worker's first requests
import the views' libraries), and prints where the CPU went: gunicorn, PostgreSQL, this script.
bba8f21 is the code before issue 17; its goal: at least 3x the baseline's ratings per second, with
POST p95 under 150 ms, every rating stored exactly once.

Needs PostgreSQL on 127.0.0.1:5432 (trust or password in --postgres) and gunicorn installed.
"""

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from _setup import ROOT, revision_unpacked

CHUNK = 5_000
REPLAY_EVERY = 20  # every 20th submission is sent again with its key, as after a lost response
ATTEMPTS = 3  # a request that fails (connection, timeout, 5xx) is retried with the same key
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="how long the raters submit (10-600)")
    parser.add_argument(
        "--raters", type=int, default=20, help="simulated raters, each a thread with its own session (1-50)"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="seconds of the same load before the timed run, not timed (0-120)"
    )
    parser.add_argument("--cases", type=int, default=20_000, help="cases in the study, each read by 3 raters")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (4 threads each with gthread)")
    parser.add_argument(
        "--worker-class",
        choices=("gthread", "sync"),
        default="gthread",
        help="gthread as docker/compose.yaml; sync: one request per process at a time, no keep-alive, so the "
        "raters' connections spread over the processes (with gthread one process may hold most of them)",
    )
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="a loopback PostgreSQL server")
    parser.add_argument("--baseline", help="a git revision to run side by side with this tree (e.g. bba8f21)")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline: runs of each side, alternating")
    parser.add_argument("--source", default=str(ROOT), help=argparse.SUPPRESS)  # the code served and seeded
    parser.add_argument("--json", help=argparse.SUPPRESS)  # where a run writes its numbers for --baseline
    args = parser.parse_args()
    if not 0 <= args.warmup <= 120:
        parser.error("--warmup must be 0-120 seconds")
    if not 10 <= args.seconds <= 600 or not 1 <= args.raters <= 50 or not 1 <= args.workers <= 8:
        parser.error("--seconds must be 10-600, --raters 1-50, --workers 1-8")
    if args.raters < 3 or args.cases < 1:
        parser.error("the study needs at least 3 raters (3 per case) and one case")
    server = urlsplit(args.postgres)
    if server.hostname not in LOOPBACK:
        parser.error("--postgres must be on loopback: this script creates and drops a database there")

    signal.signal(signal.SIGTERM, _interrupt)
    if args.baseline:
        _side_by_side(args)
        return
    source = Path(args.source)
    database = f"cxr_bench_load_{secrets.token_hex(4)}"
    admin_url = f"{args.postgres.rstrip('/')}/postgres"
    with tempfile.TemporaryDirectory(prefix="bench-load-") as var_dir:
        _create_database(admin_url, database)
        try:
            env = _environment(var_dir=var_dir, database_url=f"{args.postgres.rstrip('/')}/{database}")
            _setup_django(env, source=source)
            started = time.perf_counter()
            study, tokens = _seed(n_cases=args.cases, n_raters=args.raters)
            print(
                f"Seeded {args.cases:,} cases x 3 raters ({args.raters} raters) "
                f"in {time.perf_counter() - started:.0f} s."
            )
            gunicorn = _start_gunicorn(env=env, workers=args.workers, source=source, worker_class=args.worker_class)
            try:
                # Untimed: each worker's first requests import the views and their libraries (numpy,
                # scipy, pandas: ~3 s of CPU a process), which a long-running server pays once.
                warm = _load(base=gunicorn.url, tokens=tokens, slug=study.slug, seconds=args.warmup)
                before = _cpu_now(gunicorn)
                run = _load(base=gunicorn.url, tokens=tokens, slug=study.slug, seconds=args.seconds)
                run.cpu = _cpu_since(before, gunicorn)
            finally:
                gunicorn.stop()
            checks = _verify(study=study, logs=warm.logs + run.logs)
            _report(run=run, checks=checks, args=args)
            if args.json:
                Path(args.json).write_text(json.dumps(_numbers(run, checks)))
        finally:
            _close_django()
            _drop_database(admin_url, database)
    if not all(ok for ok, _ in checks.values()):
        sys.exit(1)


def _interrupt(signum, frame) -> None:
    # SIGTERM (a timeout, a kill) ends the run like Ctrl-C, so that the finally blocks clean up.
    raise KeyboardInterrupt


# --- the throwaway database and the server ---------------------------------------------------------


def _create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"Dropped the database {name}.")


def _environment(*, var_dir: str, database_url: str) -> dict[str, str]:
    """The production settings (DEBUG=0), pointed at the throwaway database and folder."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
    }


def _setup_django(env: dict[str, str], *, source: Path) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(source))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _close_django() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


@dataclass
class Gunicorn:
    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        # The process group: the arbiter and its workers, which this script started.
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        print("Stopped gunicorn.")


def _start_gunicorn(*, env: dict[str, str], workers: int, source: Path, worker_class: str) -> Gunicorn:
    with socket.socket() as probe:  # a free port on loopback; gunicorn binds it a moment later
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--worker-class={worker_class}",
            f"--workers={workers}",
            *(["--threads=4"] if worker_class == "gthread" else []),
            "--timeout=120",
            "--log-level=warning",
            "--no-control-socket",
        ],  # several benches may run on one machine
        cwd=source,
        env=env,
        start_new_session=True,
    )
    server = Gunicorn(process=process, url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            # Workers import every view as they start (config/wsgi.py): seconds of CPU each, at once.
            if requests.get(f"{server.url}/healthz", timeout=60).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("gunicorn did not answer /healthz within 120 s")


def _seed(*, n_cases: int, n_raters: int):
    """An open study of fake image rows, assigned by the real service; an API token per rater."""
    import hashlib

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from accounts.services import coordinator_set
    from annotation.models import Case, Image, StudyMembership
    from annotation.services import membership_add, study_create, study_open

    User = get_user_model()
    owner = User.objects.create_user(username="bench-owner")
    coordinator_set(user=owner, allowed=True)  # only coordinators create studies
    study = study_create(owner=owner, slug="bench-load", title="Load test", rubric="cohen2020", raters_per_case=3)
    raters = [User.objects.create_user(username=f"bench-rater{i:02d}") for i in range(n_raters)]
    for rater in raters:
        membership_add(study=study, user=rater, role=StudyMembership.Role.RATER)
    for start in range(0, n_cases, CHUNK):
        with transaction.atomic():
            images = Image.objects.bulk_create(
                Image(
                    sha256=hashlib.sha256(f"bench-load:{i}".encode()).hexdigest(),
                    original=f"originals/bench-{i}.png",
                    display=f"display/bench-{i}.png",
                    source_format="png",
                    bit_depth=8,
                    width=2048,
                    height=2048,
                    display_width=2048,
                    display_height=2048,
                )
                for i in range(start, min(n_cases, start + CHUNK))
            )
            Case.objects.bulk_create(
                Case(study=study, image=image, original_filename=f"bench-{image.sha256[:8]}.png") for image in images
            )
    study_open(study=study)
    study.refresh_from_db()
    return study, [Token.objects.create(user=rater).key for rater in raters]


# --- the raters ------------------------------------------------------------------------------------


@dataclass
class RaterLog:
    stored: dict[str, int] = field(default_factory=dict)  # idempotency key -> revision, first answer 201
    replays: list[tuple[str, int, int]] = field(default_factory=list)  # key, first revision, replayed revision
    post_ms: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    retried: int = 0
    exhausted: bool = False


@dataclass
class Run:
    logs: list[RaterLog]
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each part during the run


# --- where the CPU went: the server, the database, this load generator -----------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int, *, with_children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    if with_children:  # and of its children that have ended (cutime + cstime)
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def _postgres_cpu() -> float:
    """All PostgreSQL processes' CPU since they started, the ended ones too: the server (postmaster)
    counts its ended children's time, and every backend is its child."""
    pids = _processes(name="postgres")
    parents = {pid: _parent(pid) for pid in pids}
    return sum(_process_cpu(pid, with_children=parents[pid] not in parents) for pid in pids)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _processes(*, group: int | None = None, name: str | None = None) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        if (group is not None and int(rest[2]) == group) or (name is not None and comm == name):
            pids.append(int(entry.name))
    return pids


def _machine_busy() -> float:
    # All CPUs' busy time since boot, in seconds: what else ran on the machine shows up here.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / TICKS


def _cpu_now(gunicorn: "Gunicorn") -> dict[str, dict[int, float] | float]:
    # gunicorn per process, so that a process ending during the run takes nothing off the others'
    # time; PostgreSQL in all, its ended backends included.
    return {
        "gunicorn": {pid: _process_cpu(pid) for pid in _processes(group=gunicorn.process.pid)},
        "postgres": _postgres_cpu(),
        "load generator": sum(os.times()[:2]),
        "machine": _machine_busy(),
    }


def _cpu_since(before: dict, gunicorn: "Gunicorn") -> dict[str, float]:
    # A gunicorn process that started during the run counts from its start; one that started and
    # ended within it is missed (its workers live on).
    now = _cpu_now(gunicorn)
    spent = {}
    for part, value in now.items():
        if isinstance(value, dict):
            spent[part] = sum(max(0.0, cpu - before[part].get(pid, 0.0)) for pid, cpu in value.items())
        else:
            spent[part] = max(0.0, value - before[part])
    return spent


def _load(*, base: str, tokens: list[str], slug: str, seconds: int) -> Run:
    if not seconds:
        return Run(logs=[], seconds=0.0)
    stop = threading.Event()
    logs = [RaterLog() for _ in tokens]
    threads = [
        threading.Thread(target=_rater, args=(base, token, slug, stop, log, i), daemon=True)
        for i, (token, log) in enumerate(zip(tokens, logs, strict=True))
    ]
    print(f"{len(tokens)} raters submitting for {seconds} s ...", flush=True)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:  # until the time is up, or every rater has run out of cases
        thread.join(timeout=max(0.0, started + seconds - time.perf_counter()))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)  # a request in flight ends within its 10 s timeout and retries
    elapsed = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a rater thread did not stop")
    return Run(logs=logs, seconds=elapsed)


def _rater(base: str, token: str, slug: str, stop: threading.Event, log: RaterLog, number: int) -> None:
    session = _Client(base, token)
    api = f"{base}/api/v1"
    submitted = 0
    while not stop.is_set():
        response = _request(log, log.next_ms, lambda: session.send("GET", f"{api}/studies/{slug}/queue/next/"))
        if response is None:
            continue
        if response.status_code == 204:
            log.exhausted = True
            return
        assignment = response.json()["id"]
        # Scores vary with the rater and the case; any complete set of values in range will do.
        seed = submitted + number
        values = {
            "extent_right": seed % 5,
            "opacity_right": seed % 4,
            "extent_left": (seed + 1) % 5,
            "opacity_left": (seed + 2) % 4,
        }
        key = uuid.uuid4().hex
        url = f"{api}/assignments/{assignment}/ratings/"
        body = {"values": values, "reading_time_s": 5.0 + seed % 30}

        def post(url=url, body=body, key=key):
            return session.send("POST", url, body=body, key=key)

        response = _request(log, log.post_ms, post)
        if response is None:
            # Every attempt failed: the rating may or may not be stored. It is not counted as
            # submitted; the check below still catches a stored row with its key (counted apart).
            log.errors["gave_up"] += 1
            continue
        if response.status_code not in (200, 201):
            log.errors[f"post_{response.status_code}"] += 1
            continue
        # 201 on the first answer; 200 when an earlier attempt was stored but its answer lost.
        log.stored[key] = response.json()["revision"]
        submitted += 1
        if submitted % REPLAY_EVERY == 0:
            again = _request(log, log.post_ms, post)
            if again is not None:
                log.replays.append(
                    (key, log.stored[key], again.json()["revision"] if again.status_code == 200 else -again.status_code)
                )


@dataclass
class _Answer:
    status_code: int
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Client:
    """One rater's HTTP client: http.client on one kept-alive connection (opened again when the
    server closes it, as gunicorn's sync workers do after each answer). `requests` spent ~2.5 ms of
    CPU a request on this machine, CPU taken from the server measured beside it."""

    def __init__(self, base: str, token: str):
        parts = urlsplit(base)
        self.host, self.port, self.token = parts.hostname, parts.port, token
        self.connection: http.client.HTTPConnection | None = None

    def send(self, method: str, url: str, *, body: dict | None = None, key: str | None = None) -> _Answer:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            self.connection.request(method, urlsplit(url).path, body=data, headers=headers)
            response = self.connection.getresponse()
            answer = _Answer(response.status, response.read())
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return answer

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _request(log: RaterLog, timings: list[float], send) -> _Answer | None:
    for attempt in range(ATTEMPTS):
        if attempt:
            log.retried += 1
            time.sleep(0.1 * attempt)
        started = time.perf_counter()
        try:
            response = send()
        except (OSError, http.client.HTTPException) as exc:
            log.errors[type(exc).__name__] += 1
            continue
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code < 500:
            return response
        log.errors[f"http_{response.status_code}"] += 1
    return None


# --- the checks and the report ---------------------------------------------------------------------


def _verify(*, study, logs: list[RaterLog]) -> dict[str, tuple[bool, str]]:
    """Every rating stored exactly once, over the warm-up and the timed run together."""
    from django.db.models import Count

    from annotation.models import Assignment, Rating, Study

    submitted = {key: revision for log in logs for key, revision in log.stored.items()}
    rows = Rating.objects.filter(assignment__study=study)
    stored_keys = list(rows.values_list("client_key", flat=True))
    duplicates = rows.values("assignment").annotate(n=Count("pk")).filter(n__gt=1).count()
    replays = [replay for log in logs for replay in log.replays]
    bad_replays = [replay for replay in replays if replay[1] != replay[2]]
    version = Study.objects.get(pk=study.pk).ratings_version - study.ratings_version
    completed = Assignment.objects.filter(study=study, completed_at__isnull=False).count()
    return {
        "rows == successful submissions": (
            len(stored_keys) == len(submitted),
            f"{len(stored_keys):,} rows, {len(submitted):,} submissions",
        ),
        "every submission's key stored once": (
            Counter(stored_keys) == Counter(submitted),
            f"{len(set(stored_keys) & set(submitted)):,} keys matched",
        ),
        "no assignment has a second revision": (duplicates == 0, f"{duplicates} assignments with more than one"),
        "replays answered 200 with the first revision": (
            not bad_replays,
            f"{len(replays) - len(bad_replays)}/{len(replays)}",
        ),
        "ratings_version bumped once per rating": (version == len(submitted), f"+{version:,}"),
        "assignments completed == submissions": (completed == len(submitted), f"{completed:,} completed"),
    }


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no requests"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   max {ordered[-1]:7.1f} ms   n={len(ordered):,}"
    )


def _report(*, run: Run, checks: dict[str, tuple[bool, str]], args) -> None:
    stored = sum(len(log.stored) for log in run.logs)
    posts = sum(len(log.post_ms) for log in run.logs)
    gets = sum(len(log.next_ms) for log in run.logs)
    errors = sum((log.errors for log in run.logs), Counter())
    print()
    print(
        f"gunicorn: {args.workers} processes ({args.worker_class}), DEBUG=0, PostgreSQL; {args.raters} raters,"
        f" token auth, loopback; {run.seconds:.1f} s"
    )
    print(
        f"ratings stored   {stored:8,}   {stored / run.seconds:7.1f} /s"
        f"   ({stored / run.seconds / args.raters:.1f} /s per rater)"
    )
    print(
        f"HTTP requests    {posts + gets:8,}   {(posts + gets) / run.seconds:7.1f} /s"
        f"   (replays {sum(len(log.replays) for log in run.logs):,}, retries {sum(log.retried for log in run.logs):,})"
    )
    print(f"POST rating      {_percentiles([ms for log in run.logs for ms in log.post_ms])}")
    print(f"GET queue/next   {_percentiles([ms for log in run.logs for ms in log.next_ms])}")
    print(f"errors           {dict(errors) or 'none'}")
    if run.cpu and stored:
        parts = "   ".join(f"{part} {seconds / stored * 1000:.1f}" for part, seconds in run.cpu.items())
        print(f"CPU ms a rating   {parts}   (2 cores: {2 * run.seconds / stored * 1000:.1f} ms of CPU a rating in all)")
    if any(log.exhausted for log in run.logs):
        print("note             a rater ran out of cases: raise --cases for a full-length run")
    print()
    for name, (ok, detail) in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")


# --- side by side with a baseline revision ---------------------------------------------------------


def _numbers(run: Run, checks: dict[str, tuple[bool, str]]) -> dict:
    posts = sorted(ms for log in run.logs for ms in log.post_ms)
    gets = sorted(ms for log in run.logs for ms in log.next_ms)
    return {
        "ratings_per_s": sum(len(log.stored) for log in run.logs) / run.seconds,
        "post_p50": statistics.median(posts) if posts else None,
        "post_p95": _p95(posts),
        "get_p95": _p95(gets),
        "checks_pass": all(ok for ok, _ in checks.values()),
    }


def _p95(ordered: list[float]) -> float | None:
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else None


def _side_by_side(args) -> None:
    """Run the baseline revision and this tree alternately, each in a process of its own, and print
    their medians side by side."""
    passed = ["--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    passed += ["--raters", str(args.raters), "--cases", str(args.cases)]
    passed += ["--workers", str(args.workers), "--worker-class", args.worker_class, "--postgres", args.postgres]
    results: dict[str, list[dict]] = {"baseline": [], "this tree": []}
    with tempfile.TemporaryDirectory(prefix="bench-load-baseline-") as folder:
        baseline = revision_unpacked(args.baseline, Path(folder) / "code")
        for round_number in range(args.rounds):
            for name, source in (("baseline", baseline), ("this tree", ROOT)):
                out = Path(folder) / f"{name.replace(' ', '-')}-{round_number}.json"
                code = args.baseline if name == "baseline" else "working tree"
                print(f"\n=== {name} ({code}), run {round_number + 1}", flush=True)
                command = [sys.executable, str(Path(__file__).resolve()), *passed, "--source", str(source)]
                subprocess.run([*command, "--json", str(out)], check=False)
                if out.exists():
                    results[name].append(json.loads(out.read_text()))
    _print_side_by_side(results, baseline=args.baseline)


def _print_side_by_side(results: dict[str, list[dict]], *, baseline: str) -> None:
    if not all(results.values()):
        sys.exit("a side produced no numbers: see its output above")
    medians = {
        name: {key: statistics.median(run[key] for run in runs) for key in ("ratings_per_s", "post_p50", "post_p95")}
        for name, runs in results.items()
    }
    base, mine = medians["baseline"], medians["this tree"]
    print(f"\nSide by side (median of {len(results['baseline'])} run(s) each; baseline = {baseline}):")
    print(f"{'':16}{'ratings/s':>12}{'POST p50 ms':>14}{'POST p95 ms':>14}")
    for name, m in medians.items():
        print(f"{name:16}{m['ratings_per_s']:12.1f}{m['post_p50']:14.1f}{m['post_p95']:14.1f}")
    ratio = mine["ratings_per_s"] / base["ratings_per_s"]
    stored_once = all(run["checks_pass"] for runs in results.values() for run in runs)
    print(f"throughput ratio: {ratio:.2f}x (goal >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
    print(f"POST p95 {mine['post_p95']:.0f} ms (goal < 150 ms: {'met' if mine['post_p95'] < 150 else 'NOT met'})")
    print(f"every rating stored exactly once in every run: {'yes' if stored_once else 'NO'}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # cleaned up on the way out
