"""Helpers for tests: authenticated clients, the test database's URL, polling."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection
from rest_framework.test import APIClient

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


def exported(client: APIClient) -> dict:
    """The person's export, read as a client reads the streamed answer."""
    response = client.get("/api/v1/me/export/")
    assert response.status_code == 200
    return json.loads(b"".join(response.streaming_content))


def test_database_url() -> str:
    """The URL of the database the tests run on, for processes the tests start."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return (
        f"postgres://{credentials}{settings.get('HOST') or '127.0.0.1'}:"
        f"{settings.get('PORT') or 5432}/{settings['NAME']}"
    )


test_database_url.__test__ = False  # a helper, not a test


def process_env(**overrides: str) -> dict[str, str]:
    # No periodic taste refits in workers a test starts unless it asks for them.
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DEBUG": "1",
        "TASTE_RETRAIN_INTERVAL_S": "0",
    }
    env.update(overrides)
    return env


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
