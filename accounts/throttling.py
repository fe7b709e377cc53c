"""DRF throttles that count by the client address of accounts.network, not by whatever
X-Forwarded-For says (DRF's own default when NUM_PROXIES is unset)."""

from rest_framework.throttling import ScopedRateThrottle

from accounts.network import client_address


class ScopedClientThrottle(ScopedRateThrottle):
    def get_ident(self, request) -> str:
        return client_address(request._request)
