"""Schemathesis over the whole OpenAPI schema, against the app served by gunicorn.

Lives at the top of tests/ so that it runs over every app's endpoints: any server error
or any answer that does not match the schema fails the build.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import urllib.request

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Track
from profiles.models import Listen
from tests.helpers import REPO_ROOT, process_env, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def seed_catalog_and_models(user) -> None:
    """Real tracks, a listening history and a trained taste model, so that operations get
    past "no model trained yet" (503) to their real logic."""
    call_command("import_corpus", "--collections", "bach,ryansMammoth", "--limit", "3")
    tracks = list(Track.objects.all())
    Listen.objects.bulk_create(
        Listen(user=user, track=track, listened_at=timezone.now()) for track in tracks[:3]
    )
    call_command("train_taste")


def test_every_operation_conforms_to_the_schema(make_user, tmp_path):
    fuzzer = make_user("fuzzer")
    seed_catalog_and_models(fuzzer)
    token = fuzzer.auth_token.key
    port = free_port()
    server_env = {
        "THROTTLE_ANON_RATE": "100000/min",
        "THROTTLE_USER_RATE": "100000/min",
        "THROTTLE_AUTH_RATE": "100000/min",
        "LOG_LEVEL": "ERROR",
        # Production mode: DEBUG pages would answer HTML where the API promises JSON.
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SECURE_COOKIES": "0",
    }
    gunicorn = str(REPO_ROOT / ".venv" / "bin" / "gunicorn")
    server_log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            gunicorn,
            "musicsite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=REPO_ROOT,
        env=process_env(**server_env),
        # A file, not a pipe: a full pipe would block the server's logging, and the server.
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/api/schema/"), timeout=240, what="gunicorn")
        result = subprocess.run(
            [
                str(REPO_ROOT / ".venv" / "bin" / "schemathesis"),
                "run",
                f"{base}/api/schema/",
                "--url",
                base,
                "--header",
                f"Authorization: Token {token}",
                "--checks",
                CHECKS,
                "--max-examples",
                "10",
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "60",
                "--seed",
                "20261125",
                "--generation-database",
                "none",
                "--workers",
                "2",
                # Deleting the account or signing out would revoke the token mid-run; their
                # own tests cover them.
                "--exclude-operation-id",
                "me_destroy",
                "--exclude-operation-id",
                "me_token_destroy",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    server_errors = "\n".join(
        line for line in (tmp_path / "server.log").read_text().splitlines() if "Error" in line
    )
    assert result.returncode == 0, server_errors[-4000:] + result.stdout[-12000:]
