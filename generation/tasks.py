"""Queue entry points of the generation app."""

from __future__ import annotations

from typing import Any

from artifacts.services import ArtifactUnavailable
from generation.models import GenerationRequest
from generation.services import (
    GENERATION_KIND,
    complete_playlists,
    fail_playlists,
    run_generation,
)
from jobs.registry import job_handler
from jobs.runner import JobContext, JobError


@job_handler(GENERATION_KIND)
def generation_job(context: JobContext) -> dict[str, Any]:
    request = GenerationRequest.objects.select_related("user", "variation_of").get(job=context.job)
    try:
        tracks = run_generation(request, context.progress)
    except (ArtifactUnavailable, ValueError) as exc:
        fail_playlists(request, str(exc))
        raise JobError(str(exc)) from exc
    complete_playlists(request, tracks)
    request.refresh_from_db(fields=["resampled", "model_version"])
    return {
        "tracks": [track.pk for track in tracks],
        "resampled": request.resampled,
        "model_version": request.model_version,
    }
