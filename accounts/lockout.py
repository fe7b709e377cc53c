"""The answer to a locked-out login, the same on every entry point (django-axes calls it)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT = "Too many failed logins: this account or address is locked out for a while. Try again later."


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers to a locked-out login, on every entry point: the API's error shape
    under /api/, a page elsewhere (the admin's login included). 429 either way."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "locked_out", "message": LOCKED_OUT, "fields": {}}}, status=429)
    return render(request, "registration/locked_out.html", {"message": LOCKED_OUT}, status=429)
