"""``/healthz``: the database, the task queue and every registered model."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from jobs.selectors import unserved_queue_problem

logger = logging.getLogger(__name__)

# A model check returns a short status ("ok", or what is wrong); apps register theirs.
ModelCheck = Callable[[], str]
_MODEL_CHECKS: dict[str, ModelCheck] = {}


def register_model_check(name: str, check: ModelCheck) -> None:
    _MODEL_CHECKS[name] = check


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_queue() -> str:
    """The queue answers, and its jobs are taken (a worker is alive when jobs wait)."""
    if settings.TASK_BACKEND == "rq":
        import django_rq

        django_rq.get_connection("default").ping()
    elif settings.TASK_BACKEND == "database":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()
    problem = unserved_queue_problem()
    return f"down: {problem}" if problem else "ok"


def _run(check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as exc:
        logger.warning("health check %s failed: %s", check, exc)
        return f"down: {type(exc).__name__}: {exc}"[:300]


@csrf_exempt  # so that other methods meet the JSON 405 below, not the CSRF page
def healthz(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    body: dict = {
        "database": _run(check_database),
        "queue": _run(check_queue),
        "models": {name: _run(check) for name, check in sorted(_MODEL_CHECKS.items())},
    }
    down = [name for name in ("database", "queue") if body[name] != "ok"]
    # A model served by an older version is degraded, not down: requests still succeed.
    down += [
        f"models.{name}"
        for name, state in body["models"].items()
        if state != "ok" and not state.startswith("degraded")
    ]
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
