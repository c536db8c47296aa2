"""Request plumbing shared by every app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path


class OptionalTrailingSlashMiddleware:
    """Serve ``/api/...`` requests that leave off the trailing slash as if they had it.

    Django's own answer is a redirect (or, in DEBUG, an error for a POST), and most HTTP
    clients follow a 301 with a GET: a client's POST of listens would be silently dropped.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/api/") and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return self.get_response(request)
