"""Fixtures shared by every test package: API clients, users, real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.helpers import REPO_ROOT, client_for, process_env


@pytest.fixture(scope="session", autouse=True)
def storage_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Media and model artifacts of the test session live in a temporary folder, for this
    process and for the worker and server processes that tests start."""
    root = tmp_path_factory.mktemp("storage")
    paths = {"MEDIA_ROOT": root / "media", "MODEL_ROOT": root / "models"}
    previous = {name: os.environ.get(name) for name in paths}
    os.environ.update({name: str(path) for name, path in paths.items()})
    with override_settings(**paths):
        yield root
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(django_user_model):
    def make(username: str = "alice", *, staff: bool = False):
        user = django_user_model.objects.create_user(
            username=username, password="a-long-enough-password", is_staff=staff
        )
        Token.objects.get_or_create(user=user)
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def auth_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def start_process() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``manage.py`` subprocesses against the test database; all are killed after."""
    processes: list[subprocess.Popen] = []

    def start(*args: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=process_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
