"""What a dyno is, as a pod: the contract every dyno shares (formation, one-off, release).

Heroku semantics carried over: the command runs through a shell as a Procfile line does; a 30 s
grace between SIGTERM and SIGKILL; `DYNO` names the dyno (the pod's name, which is how Heroku's
Fir generation names dynos too; a one-off gets `run.N`); `DYNO_TYPE` and `DYNO_SIZE`; `PORT` is
given to processes that listen; the app's config vars, then the type's own. Every dyno gets the
restricted security context and its size's resources and nodes. The operator wraps this in
Deployments and the release Job; the CLI in one-off pods.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from dynoform.api.v1alpha1 import DynoSizeSpec, Formation, ProcessType

GRACE_SECONDS = 30  # Heroku: SIGTERM, then SIGKILL 30 seconds later.


def dyno_pod(formation: Formation, ptype: str, size: DynoSizeSpec) -> dict[str, Any]:
    """The pod spec of a dyno of `ptype` (a formation type, `run` or `release`) of `size`."""
    spec = formation.spec
    pod: dict[str, Any] = {
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        # Dynos do not talk to the Kubernetes API, nor expect Service variables in their env.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": _pod_security(formation),
        "containers": [_container(formation, ptype, size)],
    }
    if spec.image_pull_secrets:
        pod["imagePullSecrets"] = [s.wire() for s in spec.image_pull_secrets]
    if size.node_selector:
        pod["nodeSelector"] = dict(size.node_selector)
    if size.tolerations:
        pod["tolerations"] = [t.wire() for t in size.tolerations]
    return pod


def run_once_pod(
    formation: Formation, ptype: str, proc: ProcessType, size: DynoSizeSpec
) -> dict[str, Any]:
    """A dyno that runs once (a one-off `run`, the `release` command): the pod of a formation
    dyno of a type that holds `proc`, never restarted."""
    spec = formation.spec.model_copy(update={"processes": {ptype: proc}})
    pod = dyno_pod(formation.model_copy(update={"spec": spec}), ptype, size)
    return {**pod, "restartPolicy": "Never"}


def _pod_security(formation: Formation) -> dict[str, Any]:
    sec = formation.spec.security
    ctx: dict[str, Any] = {
        "runAsNonRoot": sec.run_as_non_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for key, value in (
        ("runAsUser", sec.run_as_user),
        ("runAsGroup", sec.run_as_group),
        ("fsGroup", sec.fs_group),
    ):
        if value is not None:
            ctx[key] = value
    return ctx


# The shell runs a Procfile line, and as the container's PID 1 it ignores SIGTERM (the kernel
# drops a signal to PID 1 that has no handler), so a dyno would never hear Heroku's SIGTERM and
# would be killed 30 s later. A simple command therefore replaces the shell (`exec`), and hears
# the signal itself; `$0` carries the line verbatim, expanded by `eval` as `sh -c` would.
# A compound line (`a && b`, `cd x; ./run`) keeps the shell: write `exec` in it yourself.
EXEC = 'eval "exec $0"'
_OPERATORS = re.compile(r"[;&|()<>`\n]|\$\(")
_SHELL_WORDS = frozenset(
    {
        # keywords: the line is a compound command
        "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in",
        "then", "until", "while",
        # builtins that act on the shell itself: nothing to exec
        ".", ":", "break", "cd", "continue", "eval", "exec", "exit", "export", "readonly",
        "return", "set", "shift", "source", "trap", "ulimit", "umask", "unset", "wait",
    }
)  # fmt: skip


def shell_command(line: str) -> list[str]:
    """How a dyno runs a Procfile line: `/bin/sh -c`, replaced by the command when simple."""
    try:
        words = shlex.split(line)
    except ValueError:  # unbalanced quotes: the shell will say what is wrong
        words = []
    simple = (
        bool(words)
        and not _OPERATORS.search(line)
        and words[0] not in _SHELL_WORDS
        and "=" not in words[0]
    )
    return ["/bin/sh", "-c", EXEC, line] if simple else ["/bin/sh", "-c", line]


def _container(formation: Formation, ptype: str, size: DynoSizeSpec) -> dict[str, Any]:
    spec = formation.spec
    container: dict[str, Any] = {
        "name": ptype,
        "image": spec.image,
        "command": shell_command(spec.processes[ptype].command),
        "env": _env(formation, ptype),
        "resources": {"requests": size.requests.wire(), "limits": size.limits.wire()},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": spec.security.read_only_root_filesystem,
        },
    }
    if spec.env_from:
        container["envFrom"] = [e.wire() for e in spec.env_from]
    port = spec.port_of(ptype)
    if port is not None:
        container["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        container["readinessProbe"] = {
            "tcpSocket": {"port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        }
    return container


def _env(formation: Formation, ptype: str) -> list[dict[str, Any]]:
    spec = formation.spec
    merged = {**(spec.env or {}), **(spec.processes[ptype].env or {})}
    env: list[dict[str, Any]] = [{"name": k, "value": merged[k]} for k in sorted(merged)]
    env.append({"name": "DYNO", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append({"name": "DYNO_TYPE", "value": ptype})
    env.append({"name": "DYNO_SIZE", "value": spec.size_of(ptype)})
    port = spec.port_of(ptype)
    if port is not None:
        env.append({"name": "PORT", "value": str(port)})
    return env
