"""Importing listening-history files: stream, parse, store in idempotent chunks.

Each chunk of ``CHUNK_SIZE`` listens is stored in its own transaction through
``record_listens``; since storing is idempotent, a run that stops half-way (a crash, a
lost worker) is finished by running the import again, without doubling anything.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from catalog.external import TrackMetadata
from jobs.models import Job, JobStatus
from jobs.registry import job_handler, register_cleanup
from jobs.runner import JobContext, JobError
from jobs.services import hold_person, submit_job
from profiles.importers import parse
from profiles.importers.hetrec import read_hetrec_artists
from profiles.importers.records import (
    ImportFormatError,
    ImportRecord,
    OtherUserRow,
    ParsedListen,
    SkippedLine,
)
from profiles.listen_input import ListenInput
from profiles.services import record_listens

CHUNK_SIZE = 1000
# A file of junk would otherwise make a report (and a job's stored result) as big as itself.
MAX_SKIPPED_REPORTED = 100
IMPORT_JOB_KIND = "profiles.import_listens"
UPLOAD_FOLDER = "imports"
Progress = Callable[[float, str], None]


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # the first ones only
    skipped_count: int = 0
    other_user_rows: int = 0

    def skip(self, line: SkippedLine) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_REPORTED:
            self.skipped.append({"line": line.line, "reason": line.reason})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_source(format_name: str) -> str:
    return f"import:{format_name}"


def _as_input(parsed: ParsedListen) -> ListenInput:
    return ListenInput(
        listened_at=parsed.listened_at,
        metadata=TrackMetadata(artist_name=parsed.artist_name, track_name=parsed.track_name),
        ms_played=parsed.ms_played,
        skipped=parsed.skipped,
        play_count=parsed.play_count,
        track_metadata=_as_submitted(parsed),
    )


def _as_submitted(parsed: ParsedListen) -> dict[str, Any]:
    """The file's metadata in ListenBrainz's shape, kept with the listen."""
    submitted: dict[str, Any] = {
        "artist_name": parsed.artist_name,
        "track_name": parsed.track_name,
    }
    if parsed.album:
        submitted["release_name"] = parsed.album
    if parsed.recording_mbid:
        submitted["additional_info"] = {"recording_mbid": parsed.recording_mbid}
    return submitted


def _chunks(records: Iterator[ImportRecord], report: ImportReport) -> Iterator[list[ListenInput]]:
    chunk: list[ListenInput] = []
    for record in records:
        if isinstance(record, ParsedListen):
            chunk.append(_as_input(record))
            if len(chunk) == CHUNK_SIZE:
                yield chunk
                chunk = []
        elif isinstance(record, SkippedLine):
            report.skip(record)
        elif isinstance(record, OtherUserRow):
            report.other_user_rows += 1
    if chunk:
        yield chunk


def import_listens(
    *,
    user: AbstractBaseUser,
    format_name: str,
    stream: BinaryIO,
    total_bytes: int | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a file of ``format_name`` from a binary ``stream``; returns what happened.

    ``options`` go to the format's parser (``file_user``, ``artist_names``).
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    records = parse(format_name, text, now=timezone.now(), **(options or {}))
    report = ImportReport()
    for chunk in _chunks(records, report):
        tally = record_listens(user=user, listens=chunk, source=import_source(format_name))
        report.accepted += tally.accepted
        report.duplicates += tally.duplicates
        if progress and total_bytes:
            done = min(1.0, stream.tell() / total_bytes)
            progress(done, f"{report.accepted} listens stored")
    _check_something_was_read(report, format_name, options or {})
    return report


def _check_something_was_read(
    report: ImportReport, format_name: str, options: dict[str, Any]
) -> None:
    """A file of which not one row could be read is the wrong file or the wrong format: say
    so (nothing was stored) rather than report success with zero listens."""
    if report.accepted or report.duplicates:
        return
    if report.other_user_rows and not report.skipped:
        raise ImportFormatError(
            f"none of the {report.other_user_rows} rows belong to file_user "
            f"{options.get('file_user')!r}"
        )
    if report.skipped:
        first = report.skipped[0]
        raise ImportFormatError(
            f"no line could be read as {format_name} ({report.skipped_count} skipped; line "
            f"{first['line']}: {first['reason']}); is this the right format?"
        )


def parser_options(
    *, file_user: str | None = None, artists_path: Path | None = None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if file_user:
        options["file_user"] = file_user
    if artists_path:
        with artists_path.open(encoding="utf-8", errors="replace") as artists:
            options["artist_names"] = read_hetrec_artists(artists)
    return options


class ImportQuotaExceeded(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "import_quota_exceeded"


def submit_import(
    *,
    user: AbstractBaseUser,
    format_name: str,
    upload: UploadedFile,
    file_user: str = "",
    artists: UploadedFile | None = None,
) -> Job:
    """Keep the uploaded file(s) under MEDIA_ROOT and queue a job that imports them.

    At most IMPORT_MAX_CONCURRENT of a person's imports wait or run at once
    (``ImportQuotaExceeded``): each holds its file on disk until it has run.
    """
    _check_import_quota(user)  # before copying up to IMPORT_MAX_BYTES for nothing
    kept = [_keep_upload(upload), *([_keep_upload(artists)] if artists else [])]
    params = {
        "user_id": user.pk,
        "format": format_name,
        "path": str(kept[0]),
        "file_user": file_user,
        "artists_path": str(kept[1]) if artists else "",
    }
    try:
        with transaction.atomic():
            hold_person(user)  # the copies are made: the lock is held for a moment only
            _check_import_quota(user)
            return submit_job(kind=IMPORT_JOB_KIND, owner=user, params=params)
    except Exception:
        for path in kept:
            path.unlink(missing_ok=True)
        raise


def _check_import_quota(user: AbstractBaseUser) -> None:
    waiting = Job.objects.filter(
        owner=user, kind=IMPORT_JOB_KIND, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).count()
    if waiting >= settings.IMPORT_MAX_CONCURRENT:
        raise ImportQuotaExceeded(
            f"You already have {waiting} imports waiting or running; the limit is "
            f"{settings.IMPORT_MAX_CONCURRENT}. Wait for one to finish."
        )


def _keep_upload(upload: UploadedFile) -> Path:
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.upload"
    with path.open("wb") as saved:
        for chunk in upload.chunks():
            saved.write(chunk)
    return path


def discard_import_uploads(*, user: AbstractBaseUser) -> int:
    """Remove the files of a person's imports that have not run (their account is going)."""
    jobs = Job.objects.filter(owner=user, kind=IMPORT_JOB_KIND).values_list("params", flat=True)
    return sum(remove_upload_files(params) for params in jobs)


def remove_upload_files(params: dict[str, Any]) -> int:
    """Remove the files an import job holds (also when it failed before running)."""
    removed = 0
    for key in ("path", "artists_path"):
        if params.get(key) and Path(params[key]).is_file():
            Path(params[key]).unlink(missing_ok=True)
            removed += 1
    return removed


register_cleanup(IMPORT_JOB_KIND, remove_upload_files)


@job_handler(IMPORT_JOB_KIND)
def run_import_job(context: JobContext) -> dict[str, Any]:
    """Import an uploaded file saved under MEDIA_ROOT; the files are removed once the
    import has run, whether it succeeded or the file was unreadable."""
    params = context.params
    path = Path(params["path"])
    if not path.exists():
        raise JobError("The uploaded file is gone; upload it again.")
    user = get_user_model().objects.get(pk=params["user_id"])
    artists = Path(params["artists_path"]) if params.get("artists_path") else None
    try:
        options = parser_options(file_user=params.get("file_user"), artists_path=artists)
        with path.open("rb") as stream:
            report = import_listens(
                user=user,
                format_name=params["format"],
                stream=stream,
                total_bytes=path.stat().st_size,
                options=options,
                progress=context.progress,
            )
    except ImportFormatError as exc:
        raise JobError(str(exc)) from None
    finally:
        for leftover in (path, artists):
            if leftover:
                leftover.unlink(missing_ok=True)
    return report.as_dict()
