"""Health, schema, settings from the environment."""

from __future__ import annotations

import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from jobs.models import Job, JobStatus
from jobs.services import record_worker_beat
from musicsite import health
from profiles.importing import submit_import
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_queue_and_untrained_models(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["database"] == "ok"
    assert body["queue"] == "ok"
    assert "no taste model has been trained yet" in body["models"]["taste"]
    assert response.status_code == 503
    assert "models.taste" in body["down"]
    assert not {"database", "queue"} & set(body["down"])


def test_healthz_is_200_when_everything_is_up(client, monkeypatch):
    monkeypatch.setattr(health, "_MODEL_CHECKS", {"generator": lambda: "ok"})
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "ok", "models": {"generator": "ok"}}


def test_healthz_answers_503_naming_what_is_down(client, monkeypatch):
    def broken() -> str:
        raise RuntimeError("checkpoint file is unreadable")

    monkeypatch.setattr(health, "_MODEL_CHECKS", {"generator": broken})
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["models.generator"]
    assert "checkpoint file is unreadable" in body["models"]["generator"]


def test_healthz_answers_503_when_the_redis_queue_is_unreachable(client, settings, monkeypatch):
    monkeypatch.setattr(health, "_MODEL_CHECKS", {})
    settings.TASK_BACKEND = "rq"
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["queue"]


def test_healthz_says_the_queue_is_down_when_jobs_wait_and_no_worker_is_alive(
    client, monkeypatch, settings
):
    monkeypatch.setattr(health, "_MODEL_CHECKS", {})
    job = Job.objects.create(kind="train_taste")
    assert client.get("/healthz").json()["queue"] == "ok"  # just queued: not yet a problem
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["queue"]
    assert f"job {job.pk} has waited 300 s and no worker was seen" in response.json()["queue"]

    record_worker_beat(name="host:1")  # a worker that is alive, if busy: a backlog is no outage
    assert client.get("/healthz").status_code == 200


def test_a_job_the_queue_cannot_take_fails_at_once_and_lets_go_of_its_files(
    settings, make_user, django_capture_on_commit_callbacks, tmp_path
):
    """A Redis queue that does not answer: the job is not left queued for ever (holding its
    owner's quota and its uploaded file); it fails, saying why, and its file goes."""
    settings.MEDIA_ROOT = tmp_path
    settings.TASK_BACKEND = "rq"
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    upload = SimpleUploadedFile("history.json", b"[]")
    with django_capture_on_commit_callbacks(execute=True):
        job = submit_import(user=make_user("listener"), format_name="spotify", upload=upload)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "The task queue could not take this job (ConnectionError); try again later."
    assert not Path(job.params["path"]).exists()


def test_healthz_answers_get_and_head_only(client):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)("/healthz")
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
        assert "not allowed" in response.json()["detail"]


def test_the_schema_and_docs_ignore_a_stale_token(client):
    stale = {"HTTP_AUTHORIZATION": "Token deadbeef"}
    assert client.get("/api/schema/", **stale).status_code == 200
    assert client.get("/api/docs/", **stale).status_code == 200


def test_schema_is_valid_openapi_3():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me/" in schema["paths"]
    token_auth = schema["components"]["securitySchemes"]["tokenAuth"]
    assert token_auth == {**token_auth, "in": "header", "name": "Authorization"}


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_time_is_utc_and_aware():
    assert settings.TIME_ZONE == "UTC"
    assert settings.USE_TZ is True


def _django_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "VAR_DIR": "/tmp/musicsite-check"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("weak_key", [None, "short", "x7" * 40])
def test_refuses_to_start_without_a_real_secret_key_when_debug_is_off(weak_key):
    env = {"DEBUG": "0"} if weak_key is None else {"DEBUG": "0", "SECRET_KEY": weak_key}
    result = _django_check(env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_deploy_check_is_clean_with_production_settings():
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "music.example.org",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    result = _django_check(production, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("setting", ["DEFAULT_PAGINATION_CLASS", "DEFAULT_PARSER_CLASSES"])
def test_each_rest_setting_imports_on_its_own(setting):
    """Whichever DRF setting is read first (system checks run in no fixed order), its
    module must import without the others: a cycle once made `check --deploy` fail."""
    code = (
        "import django; django.setup(); "
        f"from rest_framework.settings import api_settings; print(api_settings.{setting})"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "VAR_DIR": "/tmp/musicsite-check"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "musicsite.settings", "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_a_body_over_the_upload_limit_is_a_413_that_names_the_limit(client):
    body = b'{"username": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    response = client.post("/api/v1/auth/register/", body, content_type="application/json")
    assert response.status_code == 413
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in response.json()["detail"]
