"""Request plumbing shared by every app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path, reverse
from rest_framework.throttling import SimpleRateThrottle


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


class AdminLoginThrottle(SimpleRateThrottle):
    """The API's rate for sign-in attempts (``auth``), per client address."""

    scope = "auth"

    def get_cache_key(self, request: HttpRequest, view: object) -> str:
        return self.cache_format % {"scope": "admin_login", "ident": self.get_ident(request)}


class AdminLoginThrottleMiddleware:
    """Password guessing at the admin's login form meets the same limit as the API's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path_info == reverse("admin:login"):
            throttle = AdminLoginThrottle()
            if not throttle.allow_request(request, None):
                wait = round(throttle.wait() or 60)
                response = HttpResponse(
                    f"Too many sign-in attempts; try again in {wait} s.",
                    status=429,
                    content_type="text/plain",
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
