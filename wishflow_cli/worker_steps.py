"""Deployment steps for Prefect workers (named in prefect.yaml's ``pull`` section).

``set_project_directory`` replaces ``prefect.deployments.steps.set_working_directory``: a worker
started without ``WISHFLOW_PROJECT_DIR`` used to crash every flow run with a bare
``FileNotFoundError: ''``; this says which setting is missing and how to start the worker.
"""

from __future__ import annotations

import os

from wishflow.errors import ConfigError

HINT = "start the worker with WISHFLOW_PROJECT_DIR=/path/to/wishflow prefect worker start --pool wishflow-process"


def set_project_directory(directory: str | None = None) -> dict[str, str]:
    """Change into the Wishflow checkout named by ``WISHFLOW_PROJECT_DIR``.

    The step's output is the directory, like Prefect's own step.
    """
    if not directory or not directory.strip():
        raise ConfigError("WISHFLOW_PROJECT_DIR is not set in this worker's environment", hint=HINT)
    if not os.path.isdir(directory):
        raise ConfigError(f"WISHFLOW_PROJECT_DIR={directory} is not a directory", hint=HINT)
    os.chdir(directory)
    return {"directory": directory}
