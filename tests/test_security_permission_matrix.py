"""Owner, rater, observer, outsider and anonymous against every page and every form action, in one table.

404 for anything not yours (never 403: nobody learns that a study or an assignment exists), a login
redirect without a session. Each row also names its API twin (tests/test_api_permissions_match_the_pages
_for_every_persona.py): the same personas are let in on both.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver

from annotation.models import Study
from annotation.services import membership_set_adjudicator
from tests.conftest import COHEN_VALUES, STUDY_SETTINGS_FORM, png_bytes
from tests.security_support import page_ids, rich_study_create
from tests.test_api_permissions_match_the_pages_for_every_persona import ENDPOINTS as API_ENDPOINTS

# owner (a coordinator), rater, observer, outsider, a coordinator outside the study, anonymous
PERSONAS = ("alice", "rater1", "olivia", "oscar", "cora", None)
L = "login"  # a redirect to the login page
SETTINGS = {**STUDY_SETTINGS_FORM, "title": "T"}


def _upload():
    return {"files": [SimpleUploadedFile("new.png", png_bytes(901), content_type="image/png")]}


def _ratings_csv():
    return {"csv": SimpleUploadedFile("r.csv", b"image,rater\n", content_type="text/csv")}


# method, URL, form data (or a callable for files), expected (owner, rater, observer, outsider,
# coordinator, anonymous), API twin
MATRIX = [
    ("get", "/", None, (200, 200, 200, 200, 200, L), ("get", "/studies/")),
    # Only coordinators create studies (403: they may know the page exists, not use it).
    ("get", "/studies/new/", None, (200, 403, 403, 403, 200, L), None),
    (
        "post",
        "/studies/new/",
        {"title": "N", "slug": "made-here", "rubric": "cohen2020", "raters_per_case": 3},
        (302, 403, 403, 403, 302, L),
        ("post", "/studies/"),
    ),
    ("get", "/studies/{slug}/", None, (200, 404, 200, 404, 404, L), ("get", "/studies/{slug}/")),
    ("post", "/studies/{slug}/settings/", SETTINGS, (302, 404, 404, 404, 404, L), ("patch", "/studies/{slug}/")),
    (
        "post",
        "/studies/{slug}/members/",
        {"username": "newbie", "role": "rater"},
        (200, 404, 404, 404, 404, L),  # the invitation page, with its link shown once
        ("post", "/studies/{slug}/members/"),
    ),
    (
        "post",
        "/studies/{slug}/members/{member}/invitation/",
        None,
        (302, 404, 404, 404, 404, L),  # olivia has a password: a message, no link
        ("post", "/studies/{slug}/members/{member}/invitation/"),
    ),
    ("post", "/studies/{slug}/open/", None, (302, 404, 404, 404, 404, L), ("post", "/studies/{slug}/open/")),
    ("post", "/studies/{slug}/lock/", None, (302, 404, 404, 404, 404, L), ("post", "/studies/{slug}/lock/")),
    ("post", "/studies/{slug}/upload/", _upload, (302, 404, 404, 404, 404, L), ("post", "/studies/{slug}/imports/")),
    # No archive in the test settings: the owner gets a message that nothing was imported.
    ("post", "/studies/{slug}/import/dicomweb/", {"study_uids": "1.2.3"}, (302, 404, 404, 404, 404, L), None),
    (
        "get",
        "/studies/{slug}/imports/{job}/",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/imports/{job}/"),
    ),
    (
        "post",
        "/studies/{slug}/ratings/import/",
        _ratings_csv,
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/ratings/import/"),
    ),
    (
        "get",
        "/studies/{slug}/export/ratings.csv",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/exports/ratings.csv"),
    ),
    (
        "get",
        "/studies/{slug}/export/scores.csv",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/exports/scores.csv"),
    ),
    (
        "get",
        "/studies/{slug}/cases/{case}/image.png",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/cases/{case}/image.png"),
    ),
    (
        "post",
        "/studies/{slug}/cases/{case}/remove/",
        None,
        (302, 404, 404, 404, 404, L),  # a rated case: a message that it stays
        ("delete", "/studies/{slug}/cases/{case}/"),
    ),
    ("get", "/studies/{slug}/read/", None, (404, 302, 404, 404, 404, L), ("get", "/studies/{slug}/queue/next/")),
    ("get", "/studies/{slug}/done/", None, (404, 200, 404, 404, 404, L), ("get", "/studies/{slug}/queue/mine/")),
    # the rater's own case list
    ("get", "/studies/{slug}/my-cases/", None, (404, 200, 404, 404, 404, L), ("get", "/studies/{slug}/queue/mine/")),
    ("get", "/read/{mine}/", None, (404, 200, 404, 404, 404, L), ("get", "/assignments/{assignment}/")),
    (
        "post",
        "/read/{mine}/",
        COHEN_VALUES,
        (404, 302, 404, 404, 404, L),
        ("post", "/assignments/{assignment}/ratings/"),
    ),
    (
        "post",
        "/read/{mine}/flag/",
        {"reason": "wrong_view"},
        (404, 302, 404, 404, 404, L),
        ("post", "/assignments/{assignment}/flag/"),
    ),
    (
        "get",
        "/read/{mine}/image.png",
        None,
        (404, 200, 404, 404, 404, L),
        ("get", "/assignments/{assignment}/image.png"),
    ),
    ("get", "/read/{mine}/saliency.png", None, (404, 404, 404, 404, 404, L), None),  # an unaided read has no map
    ("get", "/studies/{slug}/report/", None, (200, 404, 200, 404, 404, L), ("get", "/studies/{slug}/report/")),
    # Asked for with a POST (its worker is told on commit, and these requests never commit); until
    # then the JSON and CSV say "not requested" (409): a GET starts nothing.
    (
        "post",
        "/studies/{slug}/report/compute/",
        None,
        (302, 404, 302, 404, 404, L),
        ("post", "/studies/{slug}/report/"),
    ),
    ("get", "/studies/{slug}/report.json", None, (409, 404, 409, 404, 404, L), ("get", "/studies/{slug}/report/")),
    ("get", "/studies/{slug}/report.csv", None, (409, 404, 409, 404, 404, L), ("get", "/studies/{slug}/report.csv")),
    (
        "get",
        "/studies/{slug}/export/consensus.csv",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/exports/consensus.csv"),
    ),
    (
        "get",
        "/studies/{slug}/adjudicate/{case}/",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/adjudications/{case}/"),
    ),
    # Recording a final score needs the adjudicator right, which nobody here has.
    (
        "post",
        "/studies/{slug}/adjudicate/{case}/",
        COHEN_VALUES,
        (404, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/adjudications/{case}/"),
    ),
    (
        "post",
        "/studies/{slug}/members/{member}/adjudicator/",
        {"allowed": "1"},
        (302, 404, 404, 404, 404, L),
        ("patch", "/studies/{slug}/members/{member}/"),
    ),
    ("get", "/studies/{slug}/model/", None, (200, 404, 404, 404, 404, L), ("get", "/studies/{slug}/model-versions/")),
    ("post", "/studies/{slug}/model/prescore/", None, (302, 404, 404, 404, 404, L), ("post", "/studies/{slug}/jobs/")),
    (
        "post",
        "/studies/{slug}/model/retrain/",
        {"feature_set": "none"},
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/jobs/"),
    ),
    (
        "post",
        "/studies/{slug}/model/versions/{version}/activate/",
        None,
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/model-versions/{version}/activate/"),
    ),
    (
        "get",
        "/studies/{slug}/export/predictions.csv",
        None,
        (200, 404, 404, 404, 404, L),
        ("get", "/studies/{slug}/exports/predictions.csv"),
    ),
    # Maps are drawn by a pre-score job of a model-assisted study; this one has none: a 404.
    ("get", "/studies/{slug}/cases/{case}/saliency.png", None, (404, 404, 404, 404, 404, L), None),
    ("get", "/accounts/profile/", None, (200, 200, 200, 200, 200, L), ("get", "/auth/me/")),
    ("post", "/accounts/profile/", {"action": "create"}, (200, 200, 200, 200, 200, L), ("post", "/auth/token/")),
    ("get", "/accounts/login/", None, (200, 200, 200, 200, 200, 200), None),
    ("get", "/accounts/password/change/", None, (200, 200, 200, 200, 200, L), None),
    ("post", "/accounts/password/change/", {"old_password": "wrong"}, (200, 200, 200, 200, 200, L), None),
    ("get", "/accounts/password/change/done/", None, (200, 200, 200, 200, 200, L), None),
    ("get", "/accounts/password/reset/", None, (200, 200, 200, 200, 200, 200), None),
    ("post", "/accounts/password/reset/", {"email": "nobody@example.org"}, (302, 302, 302, 302, 302, 302), None),
    ("get", "/accounts/password/reset/sent/", None, (200, 200, 200, 200, 200, 200), None),
    # A link that works for nobody: the same answer for everyone.
    ("get", "/accounts/password/reset/{uidb64}/{token}/", None, (404, 404, 404, 404, 404, 404), None),
    ("get", "/accounts/invitation/{uidb64}/{token}/", None, (404, 404, 404, 404, 404, 404), None),
    ("post", "/accounts/logout/", None, (L, L, L, L, L, L), None),
    # the audit trail: owners only
    ("get", "/studies/{slug}/audit/", None, (200, 404, 404, 404, 404, L), None),
    ("get", "/studies/{slug}/export/audit.csv", None, (200, 404, 404, 404, 404, L), None),
    # reading times per named rater: owners only
    ("get", "/studies/{slug}/effort/", None, (200, 404, 404, 404, 404, L), None),
    # a figure of a report that does not exist: 404 for all (tests/test_report_figures_are_linked_images.py)
    (
        "get",
        "/studies/{slug}/report/{report}/figures/{total}/{figure}.svg",
        None,
        (404, 404, 404, 404, 404, L),
        None,
    ),
    # the case browser and case page: owners (and adjudicators, below)
    ("get", "/studies/{slug}/cases/", None, (200, 404, 404, 404, 404, L), None),
    ("get", "/studies/{slug}/cases/{case}/", None, (200, 404, 404, 404, 404, L), None),
    # repairs: owners only
    (
        "post",
        "/studies/{slug}/cases/{case}/exclude/",
        {"reason": "lateral"},
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/cases/{case}/exclusion/"),
    ),
    (
        "post",
        "/studies/{slug}/cases/{case}/restore/",
        None,
        (302, 404, 404, 404, 404, L),
        ("delete", "/studies/{slug}/cases/{case}/exclusion/"),
    ),
    (
        "post",
        "/studies/{slug}/members/{rater}/remove/",
        None,
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/members/{member}/removal/"),
    ),
    (
        "post",
        "/studies/{slug}/members/{rater}/replace/",
        {"new": "cora"},
        (302, 404, 404, 404, 404, L),
        ("post", "/studies/{slug}/members/{member}/replacement/"),
    ),
    # planning a study reads no study: anyone logged in (tests/test_plan_page_answers_logged_in_users.py)
    ("get", "/plan/", None, (200, 200, 200, 200, 200, L), None),
    # the site's icon, for everyone (a redirect to the static file)
    ("get", "/favicon.ico", None, (302, 302, 302, 302, 302, 302), None),
]


@pytest.fixture
def ids(personas):
    rich = rich_study_create(personas)
    # A plain observer: the adjudicator right is tested in the row that grants it.
    membership_set_adjudicator(study=rich.study, user=personas["olivia"], allowed=False)
    return page_ids(rich, personas)


def _outcome(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/"):
        return L
    return response.status_code


def test_every_persona_gets_the_expected_answer_from_every_page_and_action(ids, personas):
    wrong = []
    for method, url, data, expected, _ in MATRIX:
        for persona, want in zip(PERSONAS, expected, strict=True):
            client = Client()
            if persona:
                client.force_login(personas[persona])
            body = data() if callable(data) else (data or {})
            with transaction.atomic():  # every action on the same untouched study
                got = _outcome(getattr(client, method)(url.format(**ids), body))
                transaction.set_rollback(True)
            if got != want:
                wrong.append(f"{method.upper()} {url} as {persona or 'anonymous'}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_every_page_route_has_a_row():
    def routes(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from routes(entry, prefix + str(entry.pattern))
            else:
                yield prefix + str(entry.pattern)

    import re

    covered = {re.sub(r"{\w+}", "*", url.lstrip("/")) for _, url, *_ in MATRIX}
    pages = {re.sub(r"<[^>]+>", "*", r) for r in routes(get_resolver()) if not r.startswith(("admin/", "api/"))}
    assert pages - covered == set()


# An observer the owner made an adjudicator (READ_CASES and ADJUDICATE) against the rows where that
# right matters: the adjudication page, the image it shows and the consensus, but still nothing that
# is the owner's alone.
ADJUDICATOR_ROWS = [
    ("get", "/studies/{slug}/adjudicate/{case}/", None, 200),
    ("get", "/studies/{slug}/cases/{case}/image.png", None, 200),
    ("post", "/studies/{slug}/adjudicate/{case}/", COHEN_VALUES, 302),
    ("get", "/studies/{slug}/export/consensus.csv", None, 200),
    ("get", "/studies/{slug}/export/scores.csv", None, 404),
    ("get", "/studies/{slug}/export/ratings.csv", None, 404),
    ("post", "/studies/{slug}/cases/{case}/remove/", None, 404),
    ("get", "/studies/{slug}/cases/", None, 200),
    ("get", "/studies/{slug}/cases/{case}/", None, 200),
    ("post", "/studies/{slug}/cases/{case}/exclude/", {"reason": "lateral"}, 404),
    ("post", "/studies/{slug}/members/{rater}/remove/", None, 404),
    ("get", "/studies/{slug}/model/", None, 404),
    ("get", "/studies/{slug}/audit/", None, 404),
]


def test_an_observer_made_adjudicator_gets_the_adjudication_pages_and_no_more(ids, personas):
    membership_set_adjudicator(study=Study.objects.get(slug=ids["slug"]), user=personas["olivia"], allowed=True)
    client = Client()
    client.force_login(personas["olivia"])
    wrong = []
    for method, url, data, want in ADJUDICATOR_ROWS:
        with transaction.atomic():
            got = _outcome(getattr(client, method)(url.format(**ids), data or {}))
            transaction.set_rollback(True)
        if got != want:
            wrong.append(f"{method.upper()} {url} as an adjudicating observer: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_pages_and_api_let_in_the_same_personas():
    api = {(method, path): expected for method, path, _, expected in [row[:4] for row in API_ENDPOINTS]}
    for method, url, _, expected, twin in MATRIX:
        if twin is None:
            continue
        api_expected = api[twin]
        for persona, page, answer in zip(PERSONAS, expected, api_expected, strict=True):
            page_allowed = page not in (404, L)
            api_allowed = answer not in (404, 401)
            assert page_allowed == api_allowed, f"{method} {url} vs API {twin} for {persona or 'anonymous'}"
