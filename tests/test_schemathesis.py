"""Schemathesis over the whole OpenAPI schema, against the app served by gunicorn.

Lives at the top of tests/ so that it runs over every app's endpoints: any server error
or any answer that does not match the schema fails the build.
"""

from __future__ import annotations

import socket
import subprocess
import urllib.request

import pytest

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


def test_every_operation_conforms_to_the_schema(make_user, start_process, tmp_path):
    token = make_user("fuzzer").auth_token.key
    port = free_port()
    server_env = {
        "THROTTLE_ANON_RATE": "100000/min",
        "THROTTLE_USER_RATE": "100000/min",
        "THROTTLE_AUTH_RATE": "100000/min",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "ERROR",
    }
    gunicorn = str(REPO_ROOT / ".venv" / "bin" / "gunicorn")
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
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
                "15",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261125",
                "--generation-database",
                "none",
                "--workers",
                "2",
                # Deleting the account would revoke the token mid-run; its own test covers it.
                "--exclude-by",
                "method == 'DELETE' and path == '/api/v1/me/'",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.terminate()
        server_errors = server.communicate(timeout=30)[1]
    assert result.returncode == 0, server_errors[-4000:] + result.stdout[-12000:]
