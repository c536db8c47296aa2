"""Queue entry points of the recommender."""

from __future__ import annotations

from typing import Any

from jobs.registry import job_handler
from jobs.runner import JobContext, JobError
from recommender.services import train_taste


@job_handler("train_taste")
def train_taste_job(context: JobContext) -> dict[str, Any]:
    try:
        artifact = train_taste(progress=context.progress)
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    return {"model_version": artifact.version, "metrics": artifact.metrics}
