"""Headers on every page, image and API answer: a Content Security Policy without inline script,
Permissions-Policy, nothing kept in a shared reading room's browser cache; the docs need no CDN.

That the pages really run under the policy in a browser is shown by the browser test
(tests/test_reading_room_in_a_real_browser.py, which fails on any violation Chromium reports).
"""

import re
from pathlib import Path

import pytest

from annotation.models import Assignment, Case
from annotation.services import rating_submit
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Written to a file by `manage.py agreement_report`, never served: it may carry its own <style>.
NOT_SERVED = {"scoring/report_standalone.html"}

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def study(make_study, personas):
    study = make_study(n_cases=2)
    for assignment in Assignment.objects.filter(study=study):
        rating_submit(assignment=assignment, values=COHEN_VALUES)
    return study


def _own_assignment(study, rater) -> Assignment:
    return Assignment.objects.filter(study=study, rater=rater).first()


def _pages(study, personas) -> list[tuple[str | None, str]]:
    """(who, URL) for the main pages: who None is anonymous."""
    assignment = _own_assignment(study, personas["rater1"])
    return [
        (None, "/accounts/login/"),
        ("alice", "/"),
        ("alice", f"/studies/{study.slug}/"),
        ("alice", f"/studies/{study.slug}/report/"),
        ("alice", f"/studies/{study.slug}/model/"),
        ("alice", f"/studies/{study.slug}/audit/"),
        ("alice", "/accounts/profile/"),
        ("rater1", f"/read/{assignment.public_id}/"),
        ("rater1", f"/studies/{study.slug}/done/"),
        (None, "/api/docs/"),
    ]


def _get(client_for, client, who: str | None, url: str):
    return (client_for(who) if who else client).get(url)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def test_main_pages_allow_scripts_and_styles_from_the_sites_files_only(study, personas, client, client_for):
    for who, url in _pages(study, personas):
        response = _get(client_for, client, who, url)
        assert response.status_code == 200, url
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], url
        assert policy["base-uri"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url
        assert policy["form-action"] == ["'self'"], url
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], url
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], url


def test_no_page_renders_an_inline_script_handler_or_style_attribute(study, personas, client, client_for):
    for who, url in _pages(study, personas):
        html = _get(client_for, client, who, url).content.decode()
        for tag in SCRIPT_TAG.findall(html):
            assert "src=" in tag or 'type="application/json"' in tag, f"{url}: inline script {tag}"
        assert not HANDLER.search(html), f"{url}: an on*= handler attribute"
        assert not STYLE_ATTRIBUTE.search(html), f"{url}: a style attribute"
        assert "javascript:" not in html.lower(), url


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")), ids=lambda name: name
)
def test_no_template_has_an_inline_script_a_handler_or_inline_style(name):
    text = (TEMPLATES / name).read_text()
    for tag in SCRIPT_TAG.findall(text):
        assert "src=" in tag, f"inline script {tag}"
    assert not HANDLER.search(text), "an on*= handler attribute: use a listener in a static JS file"
    assert "javascript:" not in text.lower()
    if name not in NOT_SERVED:
        assert not STYLE_ATTRIBUTE.search(text), "a style attribute: use a class in static/css"
        assert "<style" not in text.lower(), "a <style> element: use static/css"


def test_permissions_policy_turns_browser_features_off_everywhere(study, personas, client, client_for):
    responses = [
        client.get("/accounts/login/"),
        client.get("/no-such-page/"),
        client_for("alice").get(f"/studies/{study.slug}/"),
        api_client(personas["rater1"]).get(f"{API}/studies/{study.slug}/queue/mine/"),
    ]
    for response in responses:
        policy = response["Permissions-Policy"]
        for feature in ("camera", "microphone", "geolocation", "usb", "payment"):
            assert f"{feature}=()" in policy


def test_images_are_never_stored_by_a_cache(study, personas, client_for):
    assignment = _own_assignment(study, personas["rater1"])
    case = Case.objects.filter(study=study).first()
    responses = [
        client_for("rater1").get(f"/read/{assignment.public_id}/image.png"),
        api_client(personas["rater1"]).get(f"{API}/assignments/{assignment.public_id}/image.png"),
        client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/image.png"),
    ]
    for response in responses:
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "no-store"


def test_pages_and_api_answers_that_show_cases_or_scores_are_never_stored(study, personas, client_for):
    assignment = _own_assignment(study, personas["rater1"])
    responses = [
        client_for("rater1").get(f"/read/{assignment.public_id}/"),
        client_for("rater1").get(f"/studies/{study.slug}/done/"),
        client_for("alice").get(f"/studies/{study.slug}/"),
        client_for("alice").get(f"/studies/{study.slug}/report/"),
        client_for("alice").get(f"/studies/{study.slug}/export/ratings.csv"),
        api_client(personas["rater1"]).get(f"{API}/studies/{study.slug}/queue/mine/"),
        api_client(personas["rater1"]).get(f"{API}/assignments/{assignment.public_id}/ratings/"),
    ]
    for response in responses:
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")


def test_redoc_is_gone_and_the_swagger_page_loads_nothing_from_another_host(client, db):
    assert client.get("/api/redoc/").status_code == 404
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert not EXTERNAL.search(html), "the docs page names another host"
    sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith(("/static/", "/api/docs/")) for s in sources), sources
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert "http://" not in script.content.decode() and "https://" not in script.content.decode()


def test_favicon_is_linked_from_every_page_and_answers_at_the_root(client, db):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/accounts/login/").content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.svg"
    assert client.get(response["Location"]).status_code == 200
