"""docker/compose.yaml, read as `docker compose` reads it, names only code and settings that exist.

No Docker here: the file is parsed (YAML merge keys, ${VAR} interpolation with .env.example's
values), and each service's command is checked against this repository: manage.py commands,
the Celery app and its queues, gunicorn's WSGI module and options, the health checks' targets.
"""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery.bin.control import inspect as celery_inspect
from celery.bin.worker import worker as celery_worker
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text()
# Set by the base image or for Python itself, not settings.
NOT_SETTINGS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


def env_example() -> dict[str, str]:
    values = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str], seen: set[str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $$, nested."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                else:
                    depth, j = depth - (text[j] == "}"), j + 1
            expression = text[i + 2 : j - 1]
            name, operator, rest = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?]|)(.*)", expression, re.S).groups()
            if seen is not None:
                seen.add(name)
            value = env.get(name)
            if operator in (":-", ":?") and not value or operator in ("-", "?") and value is None:
                if operator.endswith("?"):
                    raise ValueError(f"{name} is required: {rest}")
                value = interpolate(rest, env, seen)
            out.append(value or "")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def load(*names: str, env: dict[str, str] | None = None, seen: set[str] | None = None) -> dict:
    """The compose files merged as `docker compose -f a -f b` does for the keys used here."""
    env = {**env_example(), "SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "p"} if env is None else env

    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return interpolate(node, env, seen) if isinstance(node, str) else node

    merged: dict = {}
    for name in names:
        merge(merged, walk(yaml.safe_load((DOCKER / name).read_text())))
    return merged


def merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value


COMPOSE = load("compose.yaml")
APP_SERVICES = {name: s for name, s in COMPOSE["services"].items() if "build" in s}
WORKERS = {name: s for name, s in APP_SERVICES.items() if s["command"][:4] == ["celery", "-A", "config", "worker"]}


def options(command: list[str]) -> dict[str, str]:
    """--name=value and --flag arguments; compose.yaml writes every option with '='."""
    found = {}
    for arg in command:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            found[name] = value
    return found


def known_queues() -> set[str]:
    return {settings.CELERY_TASK_DEFAULT_QUEUE} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}


def test_compose_runs_the_web_process_both_workers_beat_and_migrations_from_one_image():
    assert {"db", "redis", "migrate", "web", "worker", "model-worker", "beat"} <= set(COMPOSE["services"])
    assert set(APP_SERVICES) == {"migrate", "web", "worker", "model-worker", "beat"}
    assert {s["build"]["dockerfile"] for s in APP_SERVICES.values()} == {"docker/Dockerfile"}
    for service in COMPOSE["services"].values():
        assert set(service.get("depends_on", {})) <= set(COMPOSE["services"])


def test_manage_py_commands_in_compose_exist():
    commands = [s["command"] for s in APP_SERVICES.values() if s["command"][:2] == ["python", "manage.py"]]
    assert commands, "migrations run on start"
    for command in commands:
        assert command[2] in get_commands(), command


def test_migrations_run_before_web_and_workers_start():
    assert APP_SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker", "model-worker", "beat"):
        assert APP_SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_beat_runs_the_periodic_requeue_with_options_it_accepts():
    from celery.bin.beat import beat as celery_beat

    command = APP_SERVICES["beat"]["command"]
    assert command[:4] == ["celery", "-A", "config", "beat"]
    beat_options = {opt for param in celery_beat.params for opt in param.opts}
    assert set(options(command)) <= beat_options
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} == {"core.tasks.jobs_requeue_stale"}


def test_gunicorn_serves_config_wsgi_with_options_it_accepts(tmp_path):
    command = APP_SERVICES["web"]["command"]
    assert command[0] == "gunicorn"
    module, attribute = command[1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    # gunicorn parses every option and loads the application, then exits without serving.
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", *command[1:]],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_celery_commands_use_the_config_app_and_options_celery_knows():
    from config.celery import app

    assert app.main == "config"
    worker_options = {opt for param in celery_worker.params for opt in param.opts}
    for name, service in WORKERS.items():
        assert set(options(service["command"])) <= worker_options, name
    inspect_options = {opt for param in celery_inspect.params for opt in param.opts}
    for name, service in WORKERS.items():
        probe = service["healthcheck"]["test"][1].split()
        assert probe[:5] == ["celery", "-A", "config", "inspect", "ping"], name
        assert {arg for arg in probe if arg.startswith("--")} <= inspect_options, name
        # The probe pings this worker by the name it was started with.
        hostname = options(service["command"])["--hostname"].replace("%h", "$HOSTNAME")
        assert probe[probe.index("--destination") + 1] == hostname, name


def test_every_queue_a_worker_consumes_is_routed_and_every_routed_queue_has_a_worker():
    consumed = {queue for s in WORKERS.values() for queue in options(s["command"])["--queues"].split(",")}
    assert consumed == known_queues()


def test_model_worker_runs_one_task_at_a_time_and_reserves_none_ahead():
    command = options(WORKERS["model-worker"]["command"])
    assert command["--queues"] == "model"
    assert command["--concurrency"] == "1"
    assert command["--prefetch-multiplier"] == "1"
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_workers_stop_with_sigquit_so_running_tasks_go_back_on_the_queue():
    # SIGTERM is a warm shutdown that waits for the task; Docker then kills it after the grace
    # period and Redis keeps the message invisible for visibility_timeout (hours).
    for name, service in WORKERS.items():
        assert service["stop_signal"] == "SIGQUIT", name
        grace_s = int(service["stop_grace_period"].removesuffix("s"))
        assert grace_s > settings.CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT, name


def test_every_variable_compose_sets_for_the_app_is_read_by_settings():
    names = {name for s in APP_SERVICES.values() for name in s["environment"]}
    dockerfile = (DOCKER / "Dockerfile").read_text()
    names |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]*)=", dockerfile, re.M)) - NOT_SETTINGS
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "MEDIA_ROOT", "STATIC_ROOT"} <= names
    unread = {name for name in names if not re.search(rf'env_[a-z_]+\(\s*"{name}"', SETTINGS_SOURCE)}
    assert not unread, f"set by docker/ but never read by config/settings.py: {sorted(unread)}"


def test_every_variable_compose_interpolates_is_documented_in_env_example():
    seen: set[str] = set()
    load("compose.yaml", "compose.gpu.yaml", seen=seen)
    assert seen == set(env_example()), "docker/.env.example and the compose files name different variables"


def test_compose_refuses_to_start_without_a_secret_key_or_database_password():
    for missing in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        env = {**env_example(), "SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "p", missing: ""}
        with pytest.raises(ValueError, match=f"{missing} is required"):
            load("compose.yaml", env=env)


def test_database_and_media_live_on_named_volumes():
    assert {"db", "media"} <= set(COMPOSE["volumes"])
    assert "db:/var/lib/postgresql/data" in COMPOSE["services"]["db"]["volumes"]
    dockerfile = (DOCKER / "Dockerfile").read_text()
    media_root = re.search(r"MEDIA_ROOT=(\S+)", dockerfile).group(1)
    for name, service in APP_SERVICES.items():
        assert f"media:{media_root}" in service["volumes"], name


def test_web_health_check_answers_plain_http_from_inside_the_container(client, settings, db):
    probe = APP_SERVICES["web"]["healthcheck"]["test"]
    url = re.search(r"'(http://[^']+)'", probe[-1]).group(1)
    path = "/" + url.split("/", 3)[3]
    # As in production: https redirect on, and the probe's Host (127.0.0.1) not an allowed host.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["cxr.example.org"]
    response = client.get(path, HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_other_paths_still_redirect_to_https_and_check_the_host(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["cxr.example.org"]
    assert client.get("/accounts/login/", HTTP_HOST="cxr.example.org").status_code == 301
    assert client.get("/accounts/login/", HTTP_HOST="127.0.0.1:8000").status_code == 400


def test_gpu_override_builds_cuda_torch_and_reserves_a_gpu_for_the_model_worker():
    gpu = load("compose.yaml", "compose.gpu.yaml")["services"]["model-worker"]
    assert gpu["build"]["args"]["TORCH"] == "cuda"
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile"
    assert gpu["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    ]
    assert gpu["command"] == WORKERS["model-worker"]["command"]
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "ARG TORCH=cpu" in dockerfile and "cuda)" in dockerfile
    assert APP_SERVICES["web"]["build"]["args"]["TORCH"] == "cpu"
