"""run and logs: one-off dynos, and the logs of every dyno.

An attached run is a pod that `kubectl attach` joins once it runs; one whose command ends
before the attach gets there (a short command) leaves its output in its log, which is printed
instead, as `kubectl run --attach` does. The end-to-end tests run both on the local cluster's
real node; the pure parts (manifests, command, attach argv, log lines) are unit-tested.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dynoform.api.dynos import LABEL_ONE_OFF, Dyno
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import Formation
from dynoform.cli import logs as lg
from dynoform.cli import oneoff, render
from dynoform.cli.commands.base import Context, action
from dynoform.cli.commands.ps import app_dynos
from dynoform.cli.errors import AlreadyExists, CliError, UsageError
from dynoform.cli.grammar import ONE_OFF, DynoRef, parse_env

if TYPE_CHECKING:
    from dynoform.cli.client import Api

START_TIMEOUT = 300.0  # seconds an attached run may take to start (image pull included)
CREATE_ATTEMPTS = 5
ATTACH_EXIT_WAIT = 10.0  # seconds to wait for the exit code once kubectl attach returns


def run(
    ctx: Context,
    argv: list[str],
    *,
    detached: bool,
    size: str | None,
    env: list[str],
    exit_code: bool,
    tty: bool,
) -> int:
    """`dyno run [--detached] [--size SIZE] [--env K=V] [--exit-code] -- COMMAND`."""
    if detached and exit_code:
        raise UsageError(
            "--exit-code needs an attached run: a detached one has no exit to wait for."
        )
    app = ctx.require_app()
    formation = ctx.api.formation(app)
    catalog = ctx.api.catalog() or Catalog()
    request = oneoff.RunRequest(
        command=oneoff.build_command(argv, formation),
        # A one-off dyno runs on the app's tier unless told (Heroku: eco apps run eco ones).
        size=(size or formation.spec.default_size()).lower(),
        env=parse_env(env),
        detached=detached,
        tty=tty,
    )
    kubectl = "" if detached else ctx.api.kubectl()  # fail before creating anything
    where = f"Running {request.command} on {render.app_name(app)}"
    with action(ctx.err, where) as act:
        number = _create(ctx.api, formation, request, catalog)
        if not detached:
            _wait_started(ctx.api, oneoff.object_name(formation, number))
        # Detached, the Job is created and runs on its own: "done", not "up".
        state = "done" if detached else "up"
        act.done(f"{state}, run.{number} ({catalog.display(request.size)})")
    if detached:
        ctx.note(f"Run dyno logs -a {app} -d run.{number} to view the output.")
        return 0
    return _attached(ctx, oneoff.object_name(formation, number), kubectl, request, exit_code)


def _create(api: Api, formation: Formation, request: oneoff.RunRequest, catalog: Catalog) -> int:
    """Create the run under the next free `run.N` (a name taken meanwhile moves to the next)."""
    number = oneoff.next_number(_one_off_names(api, formation.name))
    build = oneoff.job if request.detached else oneoff.pod
    for _ in range(CREATE_ATTEMPTS):
        try:
            api.create(build(formation, request, number, catalog))
            return number
        except AlreadyExists:
            number += 1
    raise CliError(f"No free run.N name after {CREATE_ATTEMPTS} attempts; try again.")


def _one_off_names(api: Api, app: str) -> list[str]:
    objects = [*api.pods(app), *api.jobs(app)]
    return [o["metadata"].get("labels", {}).get(LABEL_ONE_OFF, "") for o in objects]


def _wait_started(api: Api, pod: str) -> None:
    obj = api.wait_pod(pod, _started, START_TIMEOUT)
    if not _started(obj):
        api.delete("Pod", pod)
        raise CliError(f"run did not start within {START_TIMEOUT:.0f}s; it was deleted.")


def _started(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed")


def _attached(
    ctx: Context, pod: str, kubectl: str, request: oneoff.RunRequest, exit_code: bool
) -> int:
    api = ctx.api
    argv = oneoff.attach_argv(kubectl, pod, api.namespace, request.tty, ctx.target.kubectl_flags())
    # SIGTERM (a CI timeout, a closed terminal) must still reach the `finally` that deletes it.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        attached = api.attach(argv)
        # The container's end reaches the API a moment after the stream closes.
        wait = ATTACH_EXIT_WAIT if attached == 0 else 0.0
        final = api.wait_pod(pod, lambda p: oneoff.exit_code(p) is not None, timeout=wait)
        if attached != 0 and oneoff.exit_code(final) is not None:
            # It ended before the attach could join it: its whole output is in its log.
            for raw in api.log(pod, None, follow=False):
                ctx.out.write(f"{lg.parse(ONE_OFF, raw).message}\n")
            attached = 0
    finally:
        api.delete("Pod", pod)  # One-off dynos never restart, nor linger once done.
        signal.signal(signal.SIGTERM, previous)
    return oneoff.outcome(oneoff.exit_code(final), attached, exit_code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def logs(ctx: Context, ref: DynoRef | None, num: int, tail: bool) -> int:
    """`dyno logs [-p TYPE | -d TYPE.N] [-n NUM] [--tail]`."""
    app = ctx.require_app()
    chosen = lg.select(app_dynos(ctx.api, app), ref, app)
    if tail:
        return _follow(ctx, chosen, num)
    streams, failed = [], 0
    for dyno in chosen:
        try:
            streams.append((dyno.name, list(ctx.api.log(dyno.pod, num, follow=False))))
        except CliError as exc:
            failed += 1
            ctx.note(f" !    {dyno.name}: {exc}")
    for line in lg.merged(streams, num):
        ctx.out.write(f"{line}\n")
    return 1 if failed else 0


def _follow(ctx: Context, chosen: Iterable[Dyno], num: int) -> int:
    """Every dyno's stream in a thread of its own, printed as lines come, until Ctrl-C."""
    events: queue.Queue[tuple[str, str, str]] = queue.Queue()
    threads = [
        threading.Thread(target=_pump, args=(ctx.api, d, num, events), daemon=True) for d in chosen
    ]
    for t in threads:
        t.start()
    failed, open_streams = 0, len(threads)
    try:
        while open_streams:
            dyno, kind, text = events.get()
            if kind == "line":
                ctx.out.write(f"{lg.parse(dyno, text)}\n")
                ctx.out.flush()
            elif kind == "error":
                failed += 1
                ctx.note(f" !    {dyno}: {text}")
            else:
                open_streams -= 1
    except KeyboardInterrupt:
        return 0
    return 1 if failed else 0


def _pump(api: Api, dyno: Dyno, num: int, events: queue.Queue[tuple[str, str, str]]) -> None:
    try:
        for raw in api.log(dyno.pod, num, follow=True):
            events.put((dyno.name, "line", raw))
    except CliError as exc:
        events.put((dyno.name, "error", str(exc)))
    finally:
        events.put((dyno.name, "end", ""))
