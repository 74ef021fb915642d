"""One-off dynos (`dyno run`): their command, name and manifests (pure).

The Job of a detached run is dynoform.api.oneoff's (the Platform API server makes the same);
here are the CLI's own parts: the command from argv, and an attached run, a bare Pod with stdin
and a TTY that the CLI attaches to, as `kubectl run -it`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from dynoform.api import oneoff as api_oneoff
from dynoform.api.oneoff import CONTAINER as CONTAINER
from dynoform.api.oneoff import MANAGED_BY as MANAGED_BY
from dynoform.api.oneoff import RUN_TTL_SECONDS as RUN_TTL_SECONDS
from dynoform.api.oneoff import RunRequest as RunRequest
from dynoform.api.oneoff import metadata as metadata
from dynoform.api.oneoff import next_number as next_number
from dynoform.api.oneoff import object_name as object_name
from dynoform.api.sizes import Catalog, SizeError
from dynoform.api.v1alpha1 import Formation
from dynoform.cli.errors import CliError, UsageError


def build_command(argv: list[str], formation: Formation) -> str:
    """The shell command: Heroku's CLI passes one argument as it is (a shell string) and quotes
    several; a first word naming a process type runs that type's command (`dyno run worker 42`).
    """
    if not argv:
        raise UsageError("Usage: dyno run COMMAND\n\nExample: dyno run bash")
    return api_oneoff.expand(argv[0] if len(argv) == 1 else shlex.join(argv), formation)


def job(formation: Formation, request: RunRequest, number: int, catalog: Catalog) -> dict[str, Any]:
    """A detached run's Job (dynoform.api.oneoff); a size the catalog lacks is a UsageError."""
    try:
        return api_oneoff.job(formation, request, number, catalog)
    except SizeError as exc:
        raise UsageError(str(exc)) from exc


def pod_spec(
    formation: Formation, request: RunRequest, number: int, catalog: Catalog
) -> dict[str, Any]:
    try:
        return api_oneoff.pod_spec(formation, request, number, catalog)
    except SizeError as exc:
        raise UsageError(str(exc)) from exc


def pod(formation: Formation, request: RunRequest, number: int, catalog: Catalog) -> dict[str, Any]:
    """An attached run: a Pod with stdin (and a TTY) to attach to."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(formation, number, request.size),
        "spec": pod_spec(formation, request, number, catalog),
    }


def attach_argv(
    kubectl: str, pod_name: str, namespace: str, tty: bool, client_flags: list[str]
) -> list[str]:
    """`kubectl attach` to the run's container (lightkube has no attach)."""
    mode = "-it" if tty else "-i"
    # --quiet: only the run's own output (not kubectl's "If you don't see a command prompt").
    argv = [kubectl, "attach", mode, "--quiet", pod_name, "-c", CONTAINER, "-n", namespace]
    return [*argv, *client_flags]


def exit_code(pod_obj: Mapping[str, Any]) -> int | None:
    """The run's exit code, once its container has ended."""
    for cs in (pod_obj.get("status") or {}).get("containerStatuses") or []:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is not None:
            return int(terminated.get("exitCode", 1))
    return None


def outcome(code: int | None, attach_status: int, passthrough: bool) -> int:
    """The CLI's exit code after an attached run: Heroku's `run` exits 0 whatever the command
    did, or with the command's own code under --exit-code; a failed attach is an error."""
    if code is None and attach_status != 0:
        raise CliError(
            f"Could not attach to the run (kubectl attach exited {attach_status}); it was deleted."
        )
    return (code or 0) if passthrough else 0
