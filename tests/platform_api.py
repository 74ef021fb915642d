"""The Platform API server as tests run it: `dyno api` in a subprocess on 127.0.0.1, and API
users with bearer tokens (ServiceAccounts, `kubectl create token`, RBAC per namespace).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import yaml

ACCEPT = "application/vnd.heroku+json; version=3"
# What an app's user may do: read, watch (the dashboard's live pages) and scale Formations, read,
# restart and stop dynos, run one-offs.
APP_USER_RULES = [
    {
        "apiGroups": ["dyno.dev"],
        "resources": ["formations"],
        "verbs": ["get", "list", "watch", "patch"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "create", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]},
]
SIZE_READER_RULES = [
    {"apiGroups": ["dyno.dev"], "resources": ["dynosizes"], "verbs": ["get", "list"]}
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(
    kubeconfig: str, namespace: str, log: Path, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """`dyno api -n NAMESPACE [ARGS]` until the block ends; yields its URL."""
    port = free_port()
    argv = [sys.executable, "-m", "dynoform.cli", "api", "--port", str(port)]
    argv += ["--kubeconfig", kubeconfig, "-n", namespace, *args]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(proc, port, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dyno api exited {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"dyno api did not listen on {port} in 30s:\n{log.read_text()}")


@dataclass(frozen=True)
class User:
    name: str  # as Kubernetes authenticates them
    token: str


def make_user(kubectl, namespace: str, name: str, read_sizes: bool = False) -> User:  # type: ignore[no-untyped-def]
    """A ServiceAccount of `namespace` allowed to use the apps of that namespace only."""
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace)}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(f"{name}-apps", namespace),
        "rules": APP_USER_RULES,
    }
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(f"{name}-apps", namespace),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        },
        "subjects": subject,
    }
    objects = [sa, role, binding]
    if read_sizes:
        cluster_name = f"{namespace}-{name}-sizes"
        objects += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": cluster_name},
                "rules": SIZE_READER_RULES,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": cluster_name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_name,
                },
                "subjects": subject,
            },
        ]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    token = kubectl("create", "token", name, "-n", namespace, "--duration", "1h").stdout.strip()
    return User(f"system:serviceaccount:{namespace}:{name}", token)


def _meta(name: str, namespace: str) -> dict[str, str]:
    return {"name": name, "namespace": namespace}


def client(url: str, token: str | None, accept: str = ACCEPT) -> httpx2.Client:
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.Client(base_url=url, headers=headers, timeout=30)


# The clients written by others, pinned; hack/install-npm-package.sh installs them (once).
HEROKU_CLI = ("heroku", "11.10.0")
HEROKU_CLIENT = ("heroku-client", "3.1.4")
INSTALLER = Path(__file__).resolve().parents[1] / "hack" / "install-npm-package.sh"


def npm_package(package: tuple[str, str]) -> Path:
    """The install directory of a pinned npm package, installed now if missing (never skipped:
    a failed install fails the test with npm's output)."""
    result = subprocess.run(
        [str(INSTALLER), *package], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"installing {package[0]}@{package[1]} failed:\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


def heroku_env(home: Path, url: str, token: str) -> dict[str, str]:
    """The `heroku` CLI pointed at the server: a home and cache of its own, no update check, no
    telemetry, no proxy for 127.0.0.1, the terms of service accepted, never a login prompt."""
    cache = home / "cache"
    (cache / "heroku").mkdir(parents=True, exist_ok=True)
    (cache / "heroku" / "terms-of-service").touch()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(cache),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "HEROKU_HOST": url,
        "HEROKU_PARTICLEBOARD_URL": url,
        "HEROKU_API_KEY": token,
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "1",
        "DISABLE_TELEMETRY": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
