"""The OpenAPI schema passes drf-spectacular's own check, and schemathesis finds no 5xx against it.

The fuzzing is bounded (a few examples per operation, no deadline) so that it runs in every `make
test`, against whatever database is configured. It acts as a study's owner, with a token, on a real
study, so that requests reach the services and not only the 404 of an unknown slug.
"""

import io

import pytest
import schemathesis
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.services import api_token_get_or_create
from annotation.models import Assignment
from annotation.services import cases_apply_metadata, import_job_create, rating_submit
from config.wsgi import application
from scoring.services import model_job_start, model_version_ensure_initial
from tests.conftest import COHEN_VALUES, png_bytes


def test_schema_validates_without_warnings(tmp_path):
    out = io.StringIO()
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"), stdout=out, stderr=out
    )
    text = (tmp_path / "schema.yaml").read_text()
    assert text.startswith("openapi: 3") and "/api/v1/assignments/{assignment_id}/ratings/" in text


def test_schema_and_docs_are_served_without_a_cdn(client, db):
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in page and "cdn." not in page
    assert client.get("/api/redoc/").status_code == 404  # it loaded fonts from a CDN: removed


# Loaded when this module is collected: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, config=schemathesis.Config.from_dict({"generation": {"max-examples": 10}})
)


@pytest.fixture
def fuzz_target(db, make_study, personas, settings, tmp_path):
    """A study of alice's with data in it, and the ids that the fuzzed paths are pinned to."""
    # Model jobs started here stay queued: the test's transaction never commits, so no worker is
    # told. Were one run, it would fail at once for want of weights (a failed job, not a 5xx),
    # never load a real backbone or look for one on the network.
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path / "no-weights")
    study = make_study(n_cases=2)
    cases_apply_metadata(study=study, metadata={"img-000.png": {"filename": "img-000.png", "age": "61"}})
    for assignment in Assignment.objects.filter(study=study, rater=personas["rater2"]):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    job = import_job_create(study=study, user=personas["alice"], files=[SimpleUploadedFile("x.png", png_bytes(5))])
    version = model_version_ensure_initial(study=study)
    model_job = model_job_start(study=study, kind="prescore", user=personas["alice"], dispatch=False)
    cache.clear()  # throttle counters: other tests' logins must not count here
    # A WSGI server closes the database connection after each request; here that would end the
    # test's transaction. Django's test client unhooks the same handler for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {
            "headers": {"Authorization": f"Token {api_token_get_or_create(user=personas['alice']).key}"},
            "path": {
                "slug": study.slug,
                "case_id": study.cases.order_by("pk").first().public_id,
                "member_id": study.memberships.get(user=personas["olivia"]).public_id,
                "job_id": job.pk,
                "number": version.number,
                "model_job_id": model_job.pk,
                "assignment_id": Assignment.objects.filter(study=study, rater=personas["rater2"]).first().public_id,
            },
        }
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        cache.clear()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_with_a_server_error(case, fuzz_target):
    # Pinned to real objects, so that requests get past the 404 of an unknown slug into the services.
    pinned = {name: value for name, value in fuzz_target["path"].items() if name in (case.path_parameters or {})}
    case.path_parameters = {**(case.path_parameters or {}), **pinned}
    case.call_and_validate(headers=fuzz_target["headers"], checks=[not_a_server_error])
