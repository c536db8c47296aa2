"""Catalog work the task worker runs."""

from __future__ import annotations

from typing import Any

from catalog import services
from jobs.registry import job_handler
from jobs.runner import JobContext

PRUNE_RENDERS_KIND = "prune_renders"


@job_handler(PRUNE_RENDERS_KIND)
def prune_renders(context: JobContext) -> dict[str, Any]:
    return services.prune_renders()
