"""Every URL pattern of the site and every operation of the API schema, asked by a rater, by an
outsider and by a coordinator who is not a member, with every id of a rich study substituted, and
every method: nothing leaks.

A rater must never receive another rater's name, scores or assignment ids, a case id, an original
filename, case metadata, a flag or adjudication note, or (in this unaided study) a model value.
An outsider gets only 401/403/404/405 or a login redirect for anything about the study. A new URL
pattern with a parameter the sweep cannot fill fails the sweep: no route goes unswept.
"""

import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from tests.api_support import api_client
from tests.security_support import leaks, rich_study_create, secrets_for_outsider, secrets_for_rater

METHODS = ("get", "post", "put", "patch", "delete")
DENIED = {401, 403, 404, 405}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")


@pytest.fixture
def rich(personas):
    return rich_study_create(personas)


def _fillers(rich) -> dict[str, list[str]]:
    """Parameter name -> every value of the study it can take (ids of one kind go into the others too)."""
    all_public = rich.case_ids + [i for ids in rich.assignment_ids.values() for i in ids]
    all_ints = sorted({str(i) for ids in rich.ints.values() for i in ids})
    study = rich.study
    admin_objects = sorted({str(study.pk), str(study.cases.first().pk), str(study.assignments.first().pk)})
    return {
        "slug": rich.slugs,
        "public_id": all_public,
        "case_id": all_public,
        "assignment_id": all_public,
        "job_id": all_ints,
        "model_job_id": all_ints,
        "member_id": rich.member_ids + all_ints,
        "membership_id": rich.member_ids + all_ints,
        # set-password links: a well-formed link that works for nobody
        "uidb64": ["MQ"],
        "token": ["set-password-token"],
        "number": all_ints,
        # a computed report's figures (a figure names raters: never a rater's)
        "report_id": sorted({*all_ints, *(str(pk) for pk in study.agreement_reports.values_list("pk", flat=True))}),
        "total": ["geographic_extent", "opacity"],
        "figure": ["scatter", "kappa"],
        # the admin: a rater or outsider is not staff, one object of each kind is enough
        "object_id": admin_objects,
        "id": admin_objects,
        "content_type_id": ["1"],
        "app_label": ["annotation"],
        "url": ["annotation/case/"],
    }


ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _templates(resolver=None, prefix: str = "") -> list[str]:
    """Every pattern as one template with {name} placeholders, walking included resolvers."""
    out = []
    for entry in (resolver or get_resolver()).url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            text = ROUTE_PARAM.sub(r"{\1}", str(pattern))
        elif isinstance(pattern, RegexPattern):
            text = REGEX_PARAM.sub(r"{\1}", str(pattern)).lstrip("^").rstrip("$")
        else:  # pragma: no cover - a new kind of pattern: refuse rather than skip it
            raise AssertionError(f"cannot sweep pattern {pattern!r}")
        if isinstance(entry, URLResolver):
            out += _templates(entry, prefix + text)
        else:
            assert isinstance(entry, URLPattern)
            out.append(prefix + text)
    return out


def _fill(template: str, fillers: dict[str, list[str]]) -> list[str]:
    names = re.findall(r"{(\w+)}", template)
    unknown = [n for n in names if n not in fillers]
    assert not unknown, f"{template}: the sweep cannot fill {unknown}; add the ids of that kind to _fillers"
    urls = [template]
    for name in dict.fromkeys(names):
        urls = [u.replace("{" + name + "}", value) for u in urls for value in fillers[name]]
    assert all(not re.search(r"[{}()^$\\]", u) for u in urls), urls
    return ["/" + u for u in urls]


def _ask(client, method: str, url: str, **extra):
    # Unsafe methods run in a savepoint that is rolled back: the study stays as built for every request.
    with transaction.atomic():
        response = getattr(client, method)(url, **extra)
        transaction.set_rollback(True)
    return response


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PAGES)


def test_every_url_pattern_is_filled_by_the_sweep(rich):
    templates = _templates()
    assert len(templates) > 100  # pages, API and admin
    for template in templates:
        assert _fill(template, _fillers(rich))


def _sweep_pages(client, user, rich, secrets, check_status):
    problems = []
    for template in _templates():
        for url in _fill(template, _fillers(rich)):
            for method in METHODS:
                response = _ask(client, method, url)
                found = leaks(response, secrets, asked=url)
                if found:
                    problems.append(f"{method.upper()} {url} ({response.status_code}) leaks {found}")
                problem = check_status(url, response)
                if problem:
                    problems.append(f"{method.upper()} {url}: {problem}")
                if "_auth_user_id" not in client.session:  # a logout: log in again
                    client.force_login(user)
    return problems


def test_rater_gets_nothing_of_others_from_any_url_and_method(rich, personas):
    client = Client()
    client.force_login(personas["rater1"])
    problems = _sweep_pages(client, personas["rater1"], rich, secrets_for_rater(rich), lambda url, response: None)
    assert not problems, "\n".join(problems)


def _outsider_status(rich):
    ids = set(rich.slugs + rich.case_ids + rich.member_ids + [i for ids in rich.assignment_ids.values() for i in ids])

    def check(url: str, response) -> str | None:
        admin = url.startswith("/admin/") and url not in ("/admin/login/", "/admin/logout/")  # open to anyone
        about_the_study = admin or any(part in ids for part in re.split(r"[/.]", url))
        if about_the_study and response.status_code not in DENIED and not _is_login_redirect(response):
            return f"answers {response.status_code} about the study"
        return None

    return check


# An outsider, and a coordinator who is not a member: creating studies gives no way into others'.
@pytest.mark.parametrize("outsider", ["oscar", "cora"])
def test_outsider_is_denied_everything_about_the_study_on_every_url(rich, personas, outsider):
    client = Client()
    client.force_login(personas[outsider])
    problems = _sweep_pages(client, personas[outsider], rich, secrets_for_outsider(rich), _outsider_status(rich))
    assert not problems, "\n".join(problems)


def test_anonymous_is_denied_everything_about_the_study_on_every_url(rich, client):
    problems = []
    check = _outsider_status(rich)
    for template in _templates():
        for url in _fill(template, _fillers(rich)):
            for method in METHODS:
                response = _ask(client, method, url)
                found = leaks(response, secrets_for_outsider(rich), asked=url)
                problem = check(url, response)
                if found or problem:
                    problems.append(f"{method.upper()} {url} ({response.status_code}): {found or problem}")
    assert not problems, "\n".join(problems)


# --- the API schema: every documented operation ----------------------------------------------------


def _operations() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _sweep_operations(client, rich, secrets, check_status) -> list[str]:
    problems = []
    fillers = _fillers(rich)
    operations = _operations()
    assert len(operations) > 40
    for method, template in operations:
        for url in _fill(template.lstrip("/"), fillers):
            response = _ask(client, method, url, data={}, format="json")
            found = leaks(response, secrets, asked=url)
            problem = check_status(url, response)
            if found or problem:
                problems.append(f"{method.upper()} {url} ({response.status_code}): {found or problem}")
    return problems


def test_rater_gets_nothing_of_others_from_any_api_operation(rich, personas):
    problems = _sweep_operations(api_client(personas["rater1"]), rich, secrets_for_rater(rich), lambda url, r: None)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("outsider", ["oscar", "cora"])
def test_outsider_is_denied_every_api_operation_about_the_study(rich, personas, outsider):
    problems = _sweep_operations(
        api_client(personas[outsider]), rich, secrets_for_outsider(rich), _outsider_status(rich)
    )
    assert not problems, "\n".join(problems)


def test_the_sweep_sees_what_the_owner_may_see(rich, personas):
    # The detector works: the owner's answers carry filenames, metadata, others' scores and model values.
    client = Client()
    client.force_login(personas["alice"])
    found = " ".join(_sweep_pages(client, personas["alice"], rich, secrets_for_rater(rich), lambda url, r: None))
    for secret in ("SECRETNAME", "PID-SECRET-4711", "rater2", "6.54321", "another rater's scores"):
        assert secret in found, secret
