"""Production settings, switched on by environment variables, in a fresh process each time."""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "cxr.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://cxr.example.org",
    "HTTPS": "1",
    "SECURE_PROXY_SSL_HEADER": "1",
}
SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
from config.celery import app
app.loader.import_default_modules()
print(json.dumps({
    "static": storages.backends["staticfiles"]["BACKEND"],
    "media": type(storages["default"]).__module__ + "." + type(storages["default"]).__name__,
    "bucket": getattr(storages["default"], "bucket_name", None),
    "cache": settings.CACHES["default"],
    "secure": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT],
    "hsts": settings.SECURE_HSTS_SECONDS,
    "proxy_header": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
    "visibility_timeout": settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout"),
    "limits": {name: [task.soft_time_limit, task.time_limit, task.acks_late, task.reject_on_worker_lost]
               for name, task in app.tasks.items() if not name.startswith("celery.")},
    "prefetch": app.conf.worker_prefetch_multiplier,
}))
"""


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # A clean environment: nothing from the test run (or CI's DATABASE_URL) leaks in.
    base = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def show(tmp_path: Path, **env: str) -> dict:
    result = run(["-c", SHOW_SETTINGS], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_settings_pass_check_deploy_with_no_warnings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_over_plain_http_is_what_check_deploy_warns_about(tmp_path):
    # Why .env.example says HTTPS=1 in production: without it the cookies travel in the clear.
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        **{**PRODUCTION, "HTTPS": "0"},
    )
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_production_serves_hashed_static_files_behind_a_tls_proxy(tmp_path):
    shown = show(tmp_path, SECRET_KEY="k", **PRODUCTION)
    assert shown["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert shown["secure"] == [True, True, True]
    assert shown["hsts"] == 365 * 24 * 60 * 60
    assert shown["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_development_keeps_plain_static_files_and_trusts_no_proxy_header(tmp_path):
    shown = show(tmp_path)
    assert shown["static"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert shown["secure"] == [False, False, False]
    assert shown["proxy_header"] is None
    assert shown["cache"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_throttles_are_shared_through_redis_when_cache_url_is_set(tmp_path):
    shown = show(tmp_path, CACHE_URL="redis://redis:6379/1")
    assert shown["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://redis:6379/1",
    }


def test_model_tasks_get_longer_time_limits_and_redis_waits_longer_than_any(tmp_path):
    shown = show(tmp_path, CELERY_BROKER_URL="redis://redis:6379/0")
    limits = shown["limits"]
    assert limits["annotation.tasks.import_job_run"] == [3600, 3900, True, True]
    assert limits["scoring.tasks.agreement_report_run"] == [3600, 3900, True, True]
    assert limits["scoring.tasks.prescore_study"] == [21600, 21900, True, True]
    assert limits["scoring.tasks.retrain_study"] == [21600, 21900, True, True]
    assert shown["visibility_timeout"] == int(1.1 * 21900)
    assert shown["prefetch"] == 1


def test_time_limits_and_visibility_timeout_follow_the_environment(tmp_path):
    shown = show(
        tmp_path,
        CELERY_BROKER_URL="redis://redis:6379/0",
        TASK_SOFT_TIME_LIMIT="600",
        MODEL_TASK_SOFT_TIME_LIMIT="36000",
    )
    assert shown["limits"]["annotation.tasks.import_job_run"][:2] == [600, 900]
    assert shown["limits"]["scoring.tasks.retrain_study"][:2] == [36000, 36300]
    assert shown["visibility_timeout"] == int(1.1 * 36300)


def test_s3_media_storage_reads_its_bucket_from_the_environment(tmp_path):
    pytest.importorskip("storages")
    shown = show(
        tmp_path, MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="cxr-media", AWS_S3_ENDPOINT_URL="http://127.0.0.1:9"
    )
    assert shown["media"] == "storages.backends.s3.S3Storage"
    assert shown["bucket"] == "cxr-media"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE='ftp' is not one of filesystem, s3"),
        ({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs"),
        ({"CACHE_URL": "memcached://cache:11211"}, "CACHE_URL='memcached://cache:11211' is not a redis:// URL"),
        ({"HTTPS": "maybe"}, "HTTPS='maybe' is not a boolean"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS=-1 is below the minimum"),
        ({"MODEL_TASK_SOFT_TIME_LIMIT": "6h"}, "MODEL_TASK_SOFT_TIME_LIMIT='6h' is not an integer"),
    ],
)
def test_settings_refuse_bad_production_values(tmp_path, env, message):
    result = run(["-c", "import django; django.setup()"], tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr
