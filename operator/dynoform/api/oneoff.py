"""Detached one-off dynos: their name and their Job (pure), shared by the CLI's `run:detached`
and the Platform API's `POST /apps/{app}/dynos`.

A one-off dyno gets exactly the pod a formation dyno gets (image, config vars, envFrom, the
size's resources and nodes, the restricted security context): the API's dyno pod
(dynoform.api.dyno) of a process type `run` holding the one-off command, run once; then what
differs is set: `DYNO` is its Heroku name (`run.3`).

It is not part of the formation (Heroku: "neither a part of your formation, nor affect it in any
way"): it carries no `dyno.dev/process-type` label, so no Deployment, Service or PDB selects it,
and `app.kubernetes.io/managed-by: dyno-cli`, so the operator never prunes or adopts it. An owner
reference (not a controller one) to the Formation deletes it with the app.

Detached, it is a Job (no retries, deleted `RUN_TTL_SECONDS` after it ends, logs readable until
then).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dynoform.api.conditions import UNKNOWN_SIZE
from dynoform.api.dyno import run_once_pod
from dynoform.api.dynos import LABEL_ONE_OFF, ONE_OFF
from dynoform.api.labels import LABEL_FORMATION, LABEL_MANAGED_BY, LABEL_SIZE
from dynoform.api.sizes import Catalog, SizeError
from dynoform.api.v1alpha1 import API_VERSION, Formation, ProcessType

RUN_TTL_SECONDS = 3600  # How long a finished detached run (and its logs) stays.
CONTAINER = ONE_OFF
MANAGED_BY = "dyno-cli"


@dataclass(frozen=True)
class RunRequest:
    """A one-off dyno to run."""

    command: str
    size: str
    env: dict[str, str] = field(default_factory=dict)
    detached: bool = False
    tty: bool = True


def expand(command: str, formation: Formation) -> str:
    """A first word naming a process type runs that type's command (`run worker 42`), as
    Heroku's runtime does."""
    first, _, rest = command.strip().partition(" ")
    proc = formation.spec.processes.get(first)
    if proc is None:
        return command
    return f"{proc.command} {rest}".strip()


def next_number(dyno_names: Iterable[str]) -> int:
    """One more than the highest `run.N` in use."""
    numbers = [int(m.group(1)) for n in dyno_names if (m := re.fullmatch(r"run\.(\d+)", n))]
    return max(numbers, default=0) + 1


def object_name(formation: Formation, number: int) -> str:
    return f"{formation.name}-run-{number}"


def labels(formation: Formation, number: int, size: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": formation.name,
        "app.kubernetes.io/instance": formation.name,
        "app.kubernetes.io/component": ONE_OFF,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_FORMATION: formation.name,
        LABEL_ONE_OFF: f"{ONE_OFF}.{number}",
        LABEL_SIZE: size,
    }


def metadata(formation: Formation, number: int, size: str) -> dict[str, Any]:
    owner = {
        "apiVersion": API_VERSION,
        "kind": "Formation",
        "name": formation.name,
        "uid": formation.metadata["uid"],
    }
    return {
        "name": object_name(formation, number),
        "namespace": formation.namespace,
        "labels": labels(formation, number, size),
        "ownerReferences": [owner],
    }


def pod_spec(
    formation: Formation, request: RunRequest, number: int, catalog: Catalog
) -> dict[str, Any]:
    """The pod of a formation dyno, made a one-off: no restart, no spread, `DYNO=run.N`; a size
    the catalog does not hold is a SizeError."""
    size = catalog.get(request.size)
    if size is None:
        raise SizeError(
            UNKNOWN_SIZE,
            f"No such size as {request.size}. Available dyno sizes are "
            f"{', '.join(catalog.names())}.",
        )
    proc = ProcessType(command=request.command, size=request.size, quantity=1, env=request.env)
    pod = run_once_pod(formation, ONE_OFF, proc, size)
    container = pod["containers"][0]
    container["env"] = [_dyno_var(e, number) for e in container["env"]]
    if not request.detached:
        container.update(stdin=True, stdinOnce=True, tty=request.tty)
    return pod


def _dyno_var(var: Mapping[str, Any], number: int) -> dict[str, Any]:
    # Formation dynos get the pod's name; a one-off gets its Heroku name, as on Cedar.
    if var["name"] == "DYNO":
        return {"name": "DYNO", "value": f"{ONE_OFF}.{number}"}
    return dict(var)


def job(formation: Formation, request: RunRequest, number: int, catalog: Catalog) -> dict[str, Any]:
    """A detached run: a Job that never retries and is deleted an hour after it ends."""
    meta = metadata(formation, number, request.size)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,  # One-off dynos never restart.
            "ttlSecondsAfterFinished": RUN_TTL_SECONDS,
            "template": {
                "metadata": {"labels": meta["labels"]},
                "spec": pod_spec(formation, request, number, catalog),
            },
        },
    }
