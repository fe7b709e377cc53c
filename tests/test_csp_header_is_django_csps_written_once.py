"""core.csp keeps the site's Content-Security-Policy header instead of building it per response:
the same header django-csp writes, a view's own policy still its own, a nonce still honoured, and a
changed policy in the settings taken at once."""

import pytest
from csp.constants import HEADER, NONCE
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from core.csp import SitePolicyCSPMiddleware


def _directives(header: str) -> set[str]:
    # django-csp's order of directives is not fixed; a browser reads them as a set.
    return {part.strip() for part in header.split(";")}


def _answer(request, response, middleware_class):
    middleware = middleware_class(lambda r: response)
    middleware.process_request(request)
    return middleware.process_response(request, response)


def _both(path="/studies/", prepare=lambda request, response: None):
    answers = []
    for middleware_class in (CSPMiddleware, SitePolicyCSPMiddleware):
        request, response = RequestFactory().get(path), HttpResponse("ok")
        prepare(request, response)
        answers.append(_answer(request, response, middleware_class))
    return answers


def test_the_site_policy_is_the_header_django_csp_writes():
    theirs, ours = _both()
    assert _directives(ours[HEADER]) == _directives(theirs[HEADER]) and "default-src 'self'" in ours[HEADER]
    assert "'unsafe-inline'" not in ours[HEADER]


def test_a_views_own_policy_is_kept():
    def replace(request, response):
        response._csp_replace = {"default-src": ["'none'"]}

    theirs, ours = _both(prepare=replace)
    assert _directives(ours[HEADER]) == _directives(theirs[HEADER]) and "default-src 'none'" in ours[HEADER]


def test_an_exempt_view_gets_no_header():
    def exempt(request, response):
        response._csp_exempt = True

    theirs, ours = _both(prepare=exempt)
    assert HEADER not in ours and HEADER not in theirs


def test_a_nonce_asked_for_goes_through_django_csp_and_too_late_is_an_error():
    policy = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        request, response = RequestFactory().get("/"), HttpResponse("ok")
        middleware = SitePolicyCSPMiddleware(lambda r: response)
        middleware.process_request(request)
        nonce = str(request.csp_nonce)
        assert f"'nonce-{nonce}'" in middleware.process_response(request, response)[HEADER]
    plain = RequestFactory().get("/")
    _answer(plain, HttpResponse("ok"), SitePolicyCSPMiddleware)
    with pytest.raises(Exception, match="csp_nonce"):
        str(plain.csp_nonce)


def test_a_changed_policy_is_taken_at_once():
    first, _ = _both()
    policy = {"DIRECTIVES": {"default-src": ["'none'"], "img-src": ["'self'"]}}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        theirs, ours = _both()
        assert _directives(ours[HEADER]) == _directives(theirs[HEADER]) == {"default-src 'none'", "img-src 'self'"}
    _, again = _both()
    assert _directives(again[HEADER]) == _directives(first[HEADER])


def test_excluded_prefixes_are_honoured():
    policy = {"DIRECTIVES": {"default-src": ["'self'"]}, "EXCLUDE_URL_PREFIXES": ["/admin/"]}
    with override_settings(CONTENT_SECURITY_POLICY=policy):
        theirs, ours = _both(path="/admin/login/")
        assert HEADER not in ours and HEADER not in theirs
