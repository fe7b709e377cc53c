"""django-csp's middleware, with the site's policy written once instead of for every response.

django-csp builds the header from the settings on every response (~0.5 ms of CPU a request on
this machine; bench/load_ratings.py). Without a nonce asked for and without a view's own policy
(`csp_replace`, `csp_update`, `csp_exempt`...), the header is the same every time: that one is
kept, until the settings' policy is another object (a test's override_settings). Anything else
goes through django-csp unchanged.
"""

import threading

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings

_PER_VIEW = (
    *("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt"),
    *("_csp_config_ro", "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro"),
)


class SitePolicyCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if not _site_policy_applies(request, response):
            return super().process_response(request, response)
        header, excluded = _site_policy()
        if HEADER not in response and not request.path_info.startswith(excluded):
            response[HEADER] = header
        # As django-csp does: a nonce asked for once the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


def _site_policy_applies(request, response) -> bool:
    return (
        getattr(request, "_csp_nonce", None) is None
        and not any(hasattr(response, name) for name in _PER_VIEW)
        # django-csp writes a report-only header too when the settings have one.
        and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        and not (response.status_code in (404, 500) and settings.DEBUG)  # django-csp leaves debug pages
    )


_kept = threading.local()


def _site_policy() -> tuple[str, tuple[str, ...]]:
    """The header and the excluded URL prefixes of the settings' policy, built once per policy."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    if getattr(_kept, "policy", _kept) is not policy:
        prefixes = tuple((policy or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
        _kept.policy, _kept.value = policy, (build_policy(), prefixes)
    return _kept.value
