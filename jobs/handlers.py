"""Built-in job kinds."""

from __future__ import annotations

import time
from typing import Any

from jobs.registry import job_handler
from jobs.runner import JobContext, JobError


@job_handler("probe")
def probe(context: JobContext) -> dict[str, Any]:
    """A queue round-trip check for operators: works for ``seconds``, reporting progress."""
    seconds = float(context.params.get("seconds", 0))
    if not 0 <= seconds <= 3600:
        raise JobError("seconds must be between 0 and 3600")
    steps = max(1, int(seconds * 4))
    for step in range(steps):
        time.sleep(seconds / steps)
        context.progress((step + 1) / steps, f"probe step {step + 1}/{steps}")
    return {"slept_s": seconds, "attempt": context.job.attempts}
