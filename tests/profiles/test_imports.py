"""Imports through the API (synchronous and as a job) and manage.py import_listens."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from jobs.models import Job
from jobs.runner import run_job
from profiles.api import views
from profiles.models import Listen
from tests.helpers import SHARED_DATA, client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/listens/import/"
LASTFM_1K = (
    SHARED_DATA / "lastfm-1k-sample" / "userid-timestamp-artid-artname-traid-traname.head5000.tsv"
)


def jsonl(count: int, *, bad_lines: int = 0) -> bytes:
    lines = [
        json.dumps(
            {
                "listened_at": 1_600_000_000 + i,
                "track_metadata": {"artist_name": f"Artist {i % 7}", "track_name": f"Song {i}"},
            }
        )
        for i in range(count)
    ]
    lines += ['{"listened_at": 5, "track_metadata": {}}'] * bad_lines
    return "\n".join(lines).encode()


def upload(client, content: bytes, fmt: str, **extra):
    file = io.BytesIO(content)
    file.name = "history.json"
    return client.post(URL, {"file": file, "format": fmt, **extra}, format="multipart")


def test_listenbrainz_export_imports_once_and_reports_skipped_lines(auth_client, user):
    content = jsonl(2500, bad_lines=2)
    first = upload(auth_client, content, "listenbrainz")
    assert first.status_code == 201, first.json()
    report = first.json()
    assert (report["accepted"], report["duplicates"]) == (2500, 0)
    assert [s["line"] for s in report["skipped"]] == [2501, 2502]
    again = upload(auth_client, content, "listenbrainz").json()
    assert (again["accepted"], again["duplicates"]) == (0, 2500)
    assert Listen.objects.filter(user=user).count() == 2500
    assert set(Listen.objects.values_list("source", flat=True)) == {"import:listenbrainz"}


def test_spotify_history_upload(auth_client, user):
    rows = [
        {
            "ts": "2022-06-01T12:00:00Z",
            "ms_played": 5000,
            "master_metadata_track_name": "Quick",
            "master_metadata_album_artist_name": "Skipper",
            "reason_end": "fwdbtn",
            "skipped": True,
            "incognito_mode": False,
        },
        {"ts": "2022-06-01T13:00:00Z", "ms_played": 1, "episode_name": "Talk"},
    ]
    report = upload(auth_client, json.dumps(rows).encode(), "spotify").json()
    assert report["accepted"] == 1 and report["skipped"][0]["line"] == 2
    assert Listen.objects.get(user=user).skipped is True


def test_bad_uploads_are_refused(auth_client):
    assert upload(auth_client, b"[]", "napster").status_code == 400
    not_json = upload(auth_client, b"\x89PNG\r\n", "listenbrainz")
    assert not_json.status_code == 400 and "JSON" in not_json.json()["file"][0]
    wrong_option = upload(auth_client, b"[]", "spotify", file_user="someone")
    assert wrong_option.status_code == 400 and "file_user" in wrong_option.json()
    assert not Listen.objects.exists()


def test_a_file_of_which_nothing_can_be_read_is_refused_not_reported_as_empty(auth_client):
    spotify_rows = json.dumps([{"ts": "2022-06-01T12:00:00Z", "ms_played": 5000}]).encode()
    as_csv = upload(auth_client, spotify_rows, "lastfm-csv")
    assert as_csv.status_code == 400
    assert "lastfm-csv" in as_csv.json()["file"][0] and "right format" in as_csv.json()["file"][0]
    assert upload(auth_client, jsonl(3), "spotify").status_code == 400
    one_k = b"user_000001\t2009-05-04T23:08:57Z\t\tDeep Dish\t\tFuck Me Im Famous\n"
    other_user = upload(auth_client, one_k, "lastfm-1k", file_user="user_000002")
    assert other_user.status_code == 400
    assert "user_000002" in other_user.json()["file"][0]
    assert upload(auth_client, one_k, "lastfm-1k", file_user="user_000001").status_code == 201
    assert Listen.objects.count() == 1


def test_large_uploads_run_as_a_job_only_their_owner_can_see(
    auth_client, user, make_user, monkeypatch, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(views, "SYNC_IMPORT_MAX_BYTES", 100)
    response = upload(auth_client, jsonl(30), "listenbrainz")
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert run_job(job_id) == "succeeded"
    status = auth_client.get(f"{URL}{job_id}/").json()
    assert status["status"] == "succeeded" and status["result"]["accepted"] == 30
    assert Listen.objects.filter(user=user).count() == 30
    assert not list((tmp_path / "imports").iterdir())
    assert client_for(make_user("bob")).get(f"{URL}{job_id}/").status_code == 404
    assert Job.objects.get(pk=job_id).progress == 1.0


def test_command_imports_the_lastfm_1k_sample_idempotently(user, capsys):
    if not LASTFM_1K.exists():
        pytest.skip(f"Last.fm-1K sample not found at {LASTFM_1K}")
    with LASTFM_1K.open(encoding="utf-8") as stream:
        first_user_rows = sum(line.startswith("user_000001\t") for line in stream)
    call_command("import_listens", str(LASTFM_1K), user="alice", format="lastfm-1k")
    out, err = capsys.readouterr()
    stored = Listen.objects.filter(user=user).count()
    skipped = err.count("skipped:")
    duplicates = int(out.split(" already stored")[0].rsplit(" ", 1)[1])
    assert stored + skipped + duplicates == first_user_rows
    assert stored > 4900 and "3 rows of other users" in out
    call_command("import_listens", str(LASTFM_1K), user="alice", format="lastfm-1k")
    out, _ = capsys.readouterr()
    assert out.startswith("0 listens imported")
    assert Listen.objects.filter(user=user).count() == stored


def test_imports_are_limited_in_size_and_in_number_waiting(
    auth_client, monkeypatch, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_MAX_BYTES = 2000
    too_big = upload(auth_client, jsonl(100), "listenbrainz")
    assert too_big.status_code == 400 and "limit is 2000 bytes" in str(too_big.json()["file"])

    monkeypatch.setattr(views, "SYNC_IMPORT_MAX_BYTES", 100)
    waiting = [upload(auth_client, jsonl(10), "listenbrainz").status_code for _ in range(3)]
    assert waiting == [202, 202, 429]
    assert len(list((tmp_path / "imports").iterdir())) == 2


def test_an_unreadable_import_and_a_deleted_account_leave_no_files(
    auth_client, user, monkeypatch, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(views, "SYNC_IMPORT_MAX_BYTES", 10)
    unreadable = upload(auth_client, b"neither json nor anything else" * 3, "listenbrainz")
    pending = upload(auth_client, jsonl(10), "listenbrainz")
    assert run_job(unreadable.json()["id"]) == "failed"
    assert len(list((tmp_path / "imports").iterdir())) == 1  # only the pending one

    assert auth_client.delete("/api/v1/me/").status_code == 204
    assert pending.status_code == 202
    assert not list((tmp_path / "imports").iterdir())
