"""Job kinds map to handler functions; apps register theirs when they load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.runner import JobContext

JobHandler = Callable[["JobContext"], dict[str, Any]]

_HANDLERS: dict[str, JobHandler] = {}


@dataclass(frozen=True)
class PeriodicJob:
    """A kind the worker submits on its own: when ``is_due()`` says there is work, and at
    most once per ``min_interval_s()`` seconds (read each time, so settings can change)."""

    kind: str
    min_interval_s: Callable[[], float]
    is_due: Callable[[], bool]


_PERIODIC: dict[str, PeriodicJob] = {}

# What to undo for a job that fails before any worker ran it (the files it holds, say).
JobCleanup = Callable[[dict[str, Any]], None]
_CLEANUPS: dict[str, JobCleanup] = {}


class UnknownJobKind(LookupError):
    pass


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register ``function`` as the code that runs jobs of ``kind``."""

    def register(function: JobHandler) -> JobHandler:
        if _HANDLERS.get(kind, function) is not function:
            raise ValueError(f"job kind {kind!r} already has a handler")
        _HANDLERS[kind] = function
        return function

    return register


def handler_for(kind: str) -> JobHandler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise UnknownJobKind(f"no handler is registered for job kind {kind!r}") from None


def register_periodic(job: PeriodicJob) -> None:
    handler_for(job.kind)  # a periodic kind must be runnable
    _PERIODIC[job.kind] = job


def periodic_jobs() -> list[PeriodicJob]:
    return list(_PERIODIC.values())


def register_cleanup(kind: str, cleanup: JobCleanup) -> None:
    """``cleanup(params)`` runs when a job of ``kind`` fails before it ran."""
    _CLEANUPS[kind] = cleanup


def cleanup_for(kind: str) -> JobCleanup | None:
    return _CLEANUPS.get(kind)
