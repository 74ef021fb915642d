"""`dyno` and `kubectl dyno`: the command line, and how errors end it.

argparse, because the grammar is small and Heroku's shapes fit it: `ps:scale` is a subcommand
name like any other, and options may come before or after it (`dyno -a shop ps` and
`dyno ps -a shop`). The global options are kubectl's (`-n`, `--context`, `--kubeconfig`) plus
Heroku's `-a/--app`; Heroku's `logs -n NUM` becomes `--num`, since `-n` is the namespace here.

Exit codes: 0 done; 1 the cluster or the rules refused (nothing changed); 2 a usage mistake
(nothing read, nothing changed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from dynoform.cli.commands import formation, history, ps, run, scale, scheduler
from dynoform.cli.commands.base import Context
from dynoform.cli.edit import AutoscaleRequest
from dynoform.cli.errors import CliError, UsageError
from dynoform.cli.grammar import DynoRef, parse_dyno_ref
from dynoform.cli.target import Target, connect
from dynoform.server.dashboard import options

if TYPE_CHECKING:
    from dynoform.cli.client import Api

Handler = Callable[[Context, argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """Usage errors become UsageErrors, reported like every other error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\nSee more help with: {self.prog} --help")


def _globals(sub: bool) -> argparse.ArgumentParser:
    # On subcommands the defaults are suppressed, so `dyno -a shop ps` keeps its app.
    default = argparse.SUPPRESS if sub else None
    g = argparse.ArgumentParser(add_help=False)
    g.add_argument("-a", "--app", default=default, help="the app: a Formation's name ($DYNO_APP)")
    g.add_argument("-n", "--namespace", default=default, help="the namespace (kubeconfig's)")
    g.add_argument("--context", default=default, help="the kubeconfig context")
    g.add_argument("--kubeconfig", default=default, help="the kubeconfig file ($KUBECONFIG)")
    return g


def build_parser() -> Parser:
    parser = Parser(
        prog="dyno",
        description="Heroku's dyno formation commands for dynoform Formations.",
        parents=[_globals(sub=False)],
    )
    add = _adder(parser.add_subparsers(title="commands", metavar="COMMAND"))
    _ps_commands(add)
    _run_commands(add)
    _scheduler_commands(add)
    _formation_commands(add)
    _api_command(add)
    return parser


def _adder(commands: Any) -> Callable[..., argparse.ArgumentParser]:
    def add(name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
        return commands.add_parser(  # type: ignore[no-any-return]
            name, help=help, description=help, parents=[_globals(sub=True)], **kw
        )

    return add


def _ps_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("ps", "list the app's dynos")
    p.add_argument("types", nargs="*", metavar="TYPE", help="only these process types")
    p.add_argument("--json", action="store_true", help="display as JSON")
    p.set_defaults(func=lambda c, a: ps.ps(c, a.types, a.json))

    p = add("ps:scale", "scale dyno quantity up or down", aliases=["dyno:scale"])
    p.add_argument("changes", nargs="*", metavar="TYPE=N[:SIZE]", help="web=2, web+1, web-1, ...")
    p.set_defaults(func=lambda c, a: scale.ps_scale(c, a.changes))

    p = add("ps:type", "show or set dyno sizes", aliases=["ps:resize", "dyno:resize"])
    p.add_argument("sizes", nargs="*", metavar="SIZE | TYPE=SIZE")
    p.set_defaults(func=lambda c, a: scale.ps_type(c, a.sizes))

    _autoscale_commands(add)

    p = add("ps:history", "who changed the formation, and to what (last 10 changes)")
    p.add_argument("--json", action="store_true", help="display as JSON")
    p.set_defaults(func=lambda c, a: history.ps_history(c, a.json))

    p = add("ps:restart", "restart all dynos, a type's, or one", aliases=["dyno:restart"])
    _dyno_target(p)
    p.set_defaults(func=lambda c, a: ps.ps_restart(c, _ref(a)))

    p = add("ps:stop", "stop a type's dynos or one", aliases=["dyno:stop", "ps:kill"])
    _dyno_target(p)
    p.set_defaults(func=lambda c, a: ps.ps_stop(c, _ref(a)))


def _autoscale_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("ps:autoscale:enable", "autoscale a process type (default web) between --min and --max")
    p.add_argument("ptype", nargs="?", default="web", metavar="TYPE", help="default web")
    p.add_argument("--min", type=int, required=True, dest="minimum", help="the fewest dynos")
    p.add_argument("--max", type=int, required=True, dest="maximum", help="the most dynos")
    p.add_argument("--p95", type=int, metavar="MS", help="target p95 response time (ms)")
    p.add_argument("--cpu", type=int, metavar="PERCENT", help="target CPU use, % of request")
    p.add_argument("--p95-metric", dest="metric", metavar="NAME", help="the p95 metric's name")
    p.set_defaults(func=_autoscale_enable)

    p = add("ps:autoscale:disable", "stop autoscaling a process type (default web)")
    p.add_argument("ptype", nargs="?", default="web", metavar="TYPE", help="default web")
    p.set_defaults(func=lambda c, a: scale.ps_autoscale_disable(c, a.ptype))


def _autoscale_enable(ctx: Context, a: argparse.Namespace) -> int:
    request = AutoscaleRequest(a.minimum, a.maximum, a.p95, a.cpu, a.metric)
    return scale.ps_autoscale_enable(ctx, a.ptype, request)


def _dyno_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", metavar="TYPE | TYPE.N")
    p.add_argument("-p", "--process-type", metavar="TYPE", help="a process type")
    p.add_argument("-d", "--dyno-name", metavar="TYPE.N", help="one dyno, e.g. web.1")


def _run_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    for name, detached, what in (
        ("run", False, "run a one-off dyno with the app's image and config vars"),
        ("run:detached", True, "run a one-off dyno in the background (run --detached)"),
    ):
        p = add(name, what)
        p.add_argument("--detached", action="store_true", default=detached, help="as a Job")
        p.add_argument("-s", "--size", help="dyno size (default standard-1x)")
        p.add_argument("-e", "--env", action="append", default=[], metavar="K=V[;K=V]")
        p.add_argument("-x", "--exit-code", action="store_true", help="exit with its exit code")
        p.add_argument("--no-tty", action="store_true", help="attach without a TTY")
        p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND")
        p.set_defaults(func=_run)

    p = add("logs", "show the logs of the app's dynos")
    p.add_argument("-p", "--process-type", metavar="TYPE", help="only this process type")
    p.add_argument("-d", "--dyno-name", metavar="TYPE.N", help="only this dyno")
    p.add_argument("--num", type=int, default=100, help="lines to show (default 100)")
    p.add_argument("-t", "--tail", action="store_true", help="keep streaming")
    p.set_defaults(func=lambda c, a: run.logs(c, _ref(a), a.num, a.tail))


def _scheduler_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("scheduler", "list the app's scheduled jobs: schedule, last run, its result, next run")
    p.add_argument("--json", action="store_true", help="display as JSON")
    p.set_defaults(func=lambda c, a: scheduler.scheduler(c, a.json))

    p = add("scheduler:run", "run a scheduled job now, as a one-off dyno")
    p.add_argument("name", metavar="NAME", help="the scheduled job")
    p.set_defaults(func=lambda c, a: scheduler.scheduler_run(c, a.name))


def _run(ctx: Context, a: argparse.Namespace) -> int:
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    return run.run(
        ctx,
        command,
        detached=a.detached,
        size=a.size,
        env=a.env,
        exit_code=a.exit_code,
        tty=not a.no_tty and sys.stdin.isatty(),
    )


def _formation_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("formation", "formation manifests")
    sub = p.add_subparsers(title="formation commands", metavar="COMMAND", required=True)
    imp = sub.add_parser(
        "import",
        help="print a Formation manifest from a Procfile",
        description="Print a Formation manifest from a Procfile (and app.json's formation).",
        parents=[_globals(sub=True)],
    )
    imp.add_argument("procfile", metavar="Procfile")
    imp.add_argument("--app-json", metavar="app.json", help="quantities and sizes from here")
    imp.add_argument("--image", required=True, help="the image every process type runs")
    imp.add_argument("--name", help="the Formation's name (default: --app)")
    imp.set_defaults(func=_import)


def _api_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "api",
        "serve Heroku's Platform API on 127.0.0.1 for the Formations of the namespace "
        "(HEROKU_HOST=http://127.0.0.1:PORT; the API key is a Kubernetes bearer token), "
        "and the dashboard at http://127.0.0.1:PORT/dashboard/",
    )
    p.add_argument("--port", type=int, default=5100, help="the port (default 5100)")
    options.add_flags(p)
    p.set_defaults(func=_api)


def _api(ctx: Context, a: argparse.Namespace) -> int:
    # Imported here: FastAPI and uvicorn load only for this command, never for `dyno --help`.
    from dynoform.server import config, main

    try:
        main.local(a.port, a.namespace, a.kubeconfig, a.context, options.from_args(a))
    except config.ConfigError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _import(ctx: Context, a: argparse.Namespace) -> int:
    name = a.name or ctx.app
    if not name:
        raise UsageError("Missing required flag: --name NAME (the Formation's name).")
    return formation.formation_import(ctx, a.procfile, a.app_json, a.image, name)


def _ref(a: argparse.Namespace) -> DynoRef | None:
    given = [v for v in (getattr(a, "target", None), a.process_type, a.dyno_name) if v]
    if len(given) > 1:
        raise UsageError("Name one process type or one dyno (TYPE or TYPE.N), not several.")
    ref = parse_dyno_ref(given[0]) if given else None
    if ref is not None and a.process_type and ref.number is not None:
        raise UsageError(f"--process-type takes a type, not a dyno name ({ref}).")
    if ref is not None and a.dyno_name and ref.number is None:
        raise UsageError(f"--dyno-name takes a dyno name such as {ref}.1.")
    return ref


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    connector: Callable[[Target], Api] = connect,
) -> int:
    """Run one command; returns the exit code (the console scripts exit with it)."""
    out, err = out or sys.stdout, err or sys.stderr
    if os.environ.get("DYNO_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=err, format="%(name)s: %(message)s")
    try:
        return _dispatch(list(sys.argv[1:] if argv is None else argv), out, err, connector)
    except CliError as exc:
        err.write(_bang(str(exc)))
        return exc.code
    except KeyboardInterrupt:
        err.write("\n")
        return 130


def _dispatch(argv: list[str], out: TextIO, err: TextIO, connector: Callable[[Target], Api]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(out)
        return 0
    target = Target(args.kubeconfig, args.context, args.namespace)
    ctx = Context(app=args.app, target=target, out=out, err=err, connector=connector)
    return func(ctx, args)


def _bang(message: str) -> str:
    """Heroku's error layout: ` !    ` before every line."""
    return "".join(f" !    {line}\n" if line else " !\n" for line in message.splitlines())
