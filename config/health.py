"""GET /healthz for container health checks and load balancers: 200 when the database answers.

A middleware placed first, so that it answers before SecurityMiddleware redirects plain http to
https and before the Host header is checked against ALLOWED_HOSTS: the probe inside the container
calls http://127.0.0.1:8000/healthz, which is neither. It says nothing but "ok" or "unavailable".
"""

from collections.abc import Callable

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse

PATH = "/healthz"


def health_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path_info != PATH:
            return get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return HttpResponse("unavailable\n", status=503, content_type="text/plain")
        return HttpResponse("ok\n", content_type="text/plain")

    return middleware
