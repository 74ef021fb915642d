"""A Formation's dynos read, restarted, stopped and run as the caller.

Names and order are dynoform.api.dynos' (the CLI's `ps` shows the same `web.1`); a type restarts
as `kubectl rollout restart` does and one dyno by deleting its pod, as the CLI's ps:restart; a
run is the CLI's detached one-off Job (dynoform.api.oneoff).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from dynoform.api import dynos as dy
from dynoform.api import oneoff
from dynoform.api.labels import RESTARTED_AT, child_name
from dynoform.api.sizes import SizeError
from dynoform.api.v1alpha1 import ENV_NAME_PATTERN, RESERVED_ENV
from dynoform.server.context import App, Caller, Sizes
from dynoform.server.errors import HerokuError, KubeError, from_kube, invalid
from dynoform.server.ids import at, timestamp

CREATE_ATTEMPTS = 5


async def listed(who: Caller, app: App) -> tuple[list[dy.Dyno], dict[str, dict[str, Any]]]:
    """The app's dynos and their pods by name."""
    try:
        pods = await who.kube.pods(who.token, app.namespace, app.formation.name)
    except KubeError as exc:
        raise from_kube(exc, app.name) from exc
    by_name = {p["metadata"]["name"]: p for p in pods}
    return dy.from_pods(pods, {}), by_name


def find(dynos: list[dy.Dyno], pods: dict[str, dict[str, Any]], identity: str) -> dy.Dyno:
    """A dyno by its name (`web.1`), its pod's name or its id (the pod's uid)."""
    for d in dynos:
        pod = pods[d.pod]["metadata"]
        if identity in (d.name, d.pod, pod.get("uid")):
            return d
    raise HerokuError(404, "Couldn't find that dyno.")


def check_type(app: App, ptype: str) -> None:
    """A process type of the app (or `run`, the one-off dynos), else Heroku's 404."""
    if ptype != dy.ONE_OFF and ptype not in app.formation.spec.processes:
        raise HerokuError(404, "Couldn't find that formation.")


def of_type(app: App, dynos: list[dy.Dyno], ptype: str) -> list[dy.Dyno]:
    check_type(app, ptype)
    return [d for d in dynos if d.type == ptype]


async def stop(who: Caller, app: App, chosen: list[dy.Dyno]) -> None:
    """Delete the dynos' pods (a detached one-off: its Job); scaled types come back, as on
    Heroku."""
    for d in chosen:
        kind, name = ("Job", d.job) if d.type == dy.ONE_OFF and d.job else ("Pod", d.pod)
        await _write(who, app, who.kube.delete(who.token, app.namespace, kind, name))


async def restart_type(who: Caller, app: App, ptype: str) -> None:
    await _write(who, app, _rollout(who, app, child_name(app.formation, ptype)))


async def restart_all(who: Caller, app: App) -> None:
    try:
        deployments = await who.kube.deployments(who.token, app.namespace, app.formation.name)
    except KubeError as exc:
        raise from_kube(exc, app.name) from exc
    for deployment in deployments:
        await _write(who, app, _rollout(who, app, deployment["metadata"]["name"]))


async def _rollout(who: Caller, app: App, deployment: str) -> None:
    when = at(datetime.now(UTC))
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: when}}}}}
    await who.kube.patch_deployment(who.token, app.namespace, deployment, patch)


async def _write(who: Caller, app: App, call: Any) -> None:
    try:
        await call
    except KubeError as exc:
        if exc.status == 403:
            raise HerokuError(403, f"You may not change the dynos of {app.name}.") from exc
        raise from_kube(exc, app.name, "dyno") from exc


async def run(
    who: Caller, app: App, request: oneoff.RunRequest, ttl: int | None, sizes: Sizes
) -> str:
    """Create a detached one-off under the next free `run.N`; returns its name."""
    number = oneoff.next_number(await _one_off_names(who, app))
    for _ in range(CREATE_ATTEMPTS):
        try:
            job = oneoff.job(app.formation, request, number, sizes.catalog)
        except SizeError as exc:
            raise invalid(str(exc)) from exc
        if ttl is not None:
            job["spec"]["activeDeadlineSeconds"] = ttl
        try:
            await who.kube.create_job(who.token, app.namespace, job)
            return f"{dy.ONE_OFF}.{number}"
        except KubeError as exc:
            if exc.status != 409:
                if exc.status == 403:
                    raise HerokuError(403, f"You may not run dynos on {app.name}.") from exc
                raise from_kube(exc, app.name, "dyno") from exc
            number += 1
    raise HerokuError(409, f"No free run.N name after {CREATE_ATTEMPTS} attempts; try again.")


async def _one_off_names(who: Caller, app: App) -> list[str]:
    try:
        objects = [
            *await who.kube.pods(who.token, app.namespace, app.formation.name),
            *await who.kube.jobs(who.token, app.namespace, app.formation.name),
        ]
    except KubeError as exc:
        raise from_kube(exc, app.name) from exc
    return [o["metadata"].get("labels", {}).get(dy.LABEL_ONE_OFF, "") for o in objects]


def parse_env(env: dict[str, str] | None) -> dict[str, str]:
    """A run's config vars, checked as the CLI's `--env` (names; the reserved ones refused)."""
    for name in env or {}:
        if not re.fullmatch(ENV_NAME_PATTERN, name):
            raise invalid(f"env: {name!r} is not a config var name.")
        if name in RESERVED_ENV:
            raise invalid(f"env: {', '.join(RESERVED_ENV)} are set by dynoform.")
    return dict(env or {})


def created(pod: dict[str, Any]) -> str:
    return timestamp(pod.get("metadata", {}).get("creationTimestamp"))
