"""Headers on every response that Django answers (static files are whitenoise's, before this runs)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

# No page uses any of these browser features: switched off for the site and for anything it frames.
# Only features Chromium knows, so that the console stays free of "Unrecognized feature" errors.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


def security_headers_middleware(get_response: Callable[[HttpRequest], HttpResponseBase]):
    """Permissions-Policy, and `Cache-Control: no-store` unless the view chose its own caching.

    Reading rooms are shared machines: a page, an image or an API answer that shows cases or scores
    must not stay in the browser's cache (nor its back-forward cache) after the rater logs out. Every
    dynamic answer is private to someone or cheap to make again, so none is stored.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cache-Control", "no-store")
        return response

    return middleware
