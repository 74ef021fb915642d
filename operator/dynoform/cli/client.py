"""The dyno CLI's one door to Kubernetes: lightkube's sync Client (and `kubectl attach`).

Nothing else in the CLI imports lightkube; API failures leave this module as CliErrors carrying
the API server's own message. Objects are lightkube's generic dict classes; a kind another part
of the same process (the tests) already registered is reused, as lightkube keeps one class per
kind.

Formation changes are optimistic: read the Formation, compute the new spec from what was read,
and write a merge patch that carries the `metadata.resourceVersion` read, which the API server
checks (409 Conflict if anyone wrote in between). On a conflict everything is read and computed
again, so `web+1` from ten clients at once adds ten. A merge patch, rather than a PUT of the
whole object, touches only the quantities and sizes that change, so fields this client does not
know (a newer API, another tool's annotations) survive.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx2
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import Generic, create_global_resource, create_namespaced_resource
from lightkube.types import CascadeType, PatchType
from pydantic import ValidationError

from dynoform.api.dynos import zone_of
from dynoform.api.labels import CHILD_LABELS, LABEL_FORMATION, RESTARTED_AT
from dynoform.api.sizes import Catalog
from dynoform.api.v1alpha1 import GROUP, VERSION, DynoSize, Formation
from dynoform.cli.errors import AlreadyExists, CliError, NotFound
from dynoform.cli.target import Target

log = logging.getLogger("dynoform.cli")

FIELD_MANAGER = "dyno-cli"
CONFLICT_ATTEMPTS = 50


def generic(group: str, version: str, kind: str, plural: str, namespaced: bool = True) -> Any:
    """A dict-based resource class (the one lightkube holds for the kind, if any)."""
    known = resource_registry.get(f"{group}/{version}" if group else version, kind)
    if known is not None and issubclass(known, Generic):
        return known
    create = create_namespaced_resource if namespaced else create_global_resource
    return create(group, version, kind, plural)


FormationResource = generic(GROUP, VERSION, "Formation", "formations")
DynoSizeResource = generic(GROUP, VERSION, "DynoSize", "dynosizes", namespaced=False)
KINDS: dict[str, Any] = {
    "Pod": generic("", "v1", "Pod", "pods"),
    "Job": generic("batch", "v1", "Job", "jobs"),
    "Node": generic("", "v1", "Node", "nodes", namespaced=False),
    "Deployment": generic("apps", "v1", "Deployment", "deployments"),
    "CronJob": generic("batch", "v1", "CronJob", "cronjobs"),
}

Compute = Callable[[Formation], dict[str, Any]]


def connect(target: Target) -> Api:
    try:
        config = KubeConfig.from_file(target.kubeconfig) if target.kubeconfig else None
        config = config or KubeConfig.from_env()
        single = config.get(context_name=target.context)
        client = Client(config=single, namespace=target.namespace, field_manager=FIELD_MANAGER)
    except ConfigError as exc:
        raise CliError(f"No cluster to talk to: {exc}") from exc
    return Api(client, target)


class Api:
    """The requests the CLI makes, in the namespace of the target."""

    def __init__(self, client: Client, target: Target | None = None) -> None:
        self.client = client
        self.target = target = target or Target()
        self.namespace: str = target.namespace or client.namespace

    # -- Formations and sizes ---------------------------------------------------------------

    def formation(self, name: str) -> Formation:
        return _parse(self._get_formation(name))

    def update_formation(self, name: str, compute: Compute) -> tuple[Formation, Formation]:
        """(before, after) of a change computed from a fresh read, retried on conflicts."""
        for attempt in range(CONFLICT_ATTEMPTS):
            raw = self._get_formation(name)
            before = _parse(raw)
            patch = compute(before)  # a CliError here: refused, nothing written
            if not patch:
                return before, before
            after = self._patch_if_unchanged(name, patch, raw["metadata"]["resourceVersion"])
            if after is not None:
                return before, after
            log.debug("Conflict on Formation %s, attempt %d; reading again", name, attempt + 1)
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # full jitter
        raise CliError(f"{name} kept changing under {CONFLICT_ATTEMPTS} attempts; nothing changed.")

    def _patch_if_unchanged(
        self, name: str, patch: dict[str, Any], version: str
    ) -> Formation | None:
        """The merge patch, applied only if the Formation is still at `version`; else None."""
        body = {**patch, "metadata": {"resourceVersion": version}}
        try:
            obj = self.client.patch(
                FormationResource, name, body, namespace=self.namespace, patch_type=PatchType.MERGE
            )
        except ApiError as exc:
            if exc.status.code == 409:
                return None
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise CliError(f"Cannot reach the Kubernetes API: {exc}") from exc
        return _parse(obj)

    def catalog(self) -> Catalog | None:
        """The cluster's size catalog; None when this user may not read DynoSizes."""
        try:
            objects = self._call(lambda: list(self.client.list(DynoSizeResource)))
        except CliError as exc:
            log.debug("DynoSizes unreadable, sizes are checked by the server only: %s", exc)
            return None
        sizes = []
        for obj in objects:
            try:
                sizes.append(DynoSize.model_validate(obj))
            except ValidationError:
                continue  # The operator reports a bad DynoSize; the rest still count.
        return Catalog.from_objects(sizes)

    # -- Dynos ----------------------------------------------------------------------------------

    def pods(self, formation: str) -> list[dict[str, Any]]:
        return self._list("Pod", {LABEL_FORMATION: formation})

    def jobs(self, formation: str) -> list[dict[str, Any]]:
        return self._list("Job", {LABEL_FORMATION: formation})

    def deployments(self, formation: str) -> list[dict[str, Any]]:
        return self._list("Deployment", {LABEL_FORMATION: formation, **CHILD_LABELS})

    def zones(self, nodes: Iterable[str]) -> dict[str, str]:
        """Node -> zone label; empty when this user may not read Nodes (zones are a bonus)."""
        zones: dict[str, str] = {}
        for name in sorted(nodes):
            try:
                node = self._call(functools.partial(self.client.get, KINDS["Node"], name))
            except CliError as exc:
                log.debug("Node %s unreadable: %s", name, exc)
                break
            if zone := zone_of(node):
                zones[name] = zone
        return zones

    def restart(self, deployment: str, when: str) -> None:
        """A rolling restart, as `kubectl rollout restart`: a new pod-template annotation."""
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: when}}}}}
        self._call(
            lambda: self.client.patch(
                KINDS["Deployment"],
                deployment,
                patch,
                namespace=self.namespace,
                patch_type=PatchType.MERGE,
            )
        )

    def delete(self, kind: str, name: str) -> None:
        """Delete (in the background, so a Job's pods go too); already gone is fine."""
        with contextlib.suppress(NotFound):
            self._call(
                lambda: self.client.delete(
                    KINDS[kind], name, namespace=self.namespace, cascade=CascadeType.BACKGROUND
                )
            )

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create; AlreadyExists when the name is taken."""
        res = KINDS[manifest["kind"]]
        return dict(
            self._call(
                lambda: self.client.create(res.from_dict(manifest), namespace=self.namespace)
            )
        )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """One object of the namespace; NotFound when there is none."""
        return dict(
            self._call(lambda: self.client.get(KINDS[kind], name, namespace=self.namespace))
        )

    def pod(self, name: str) -> dict[str, Any]:
        return dict(
            self._call(lambda: self.client.get(KINDS["Pod"], name, namespace=self.namespace))
        )

    def wait_pod(
        self, name: str, done: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            obj = self.pod(name)
            if done(obj) or time.monotonic() > deadline:
                return obj
            time.sleep(0.5)

    def log(self, pod: str, tail: int | None, follow: bool) -> Iterator[str]:
        """The pod's log lines with timestamps (the request is made on the first line)."""
        try:
            yield from self.client.log(
                pod, namespace=self.namespace, tail_lines=tail, follow=follow, timestamps=True
            )
        except ApiError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise CliError(f"Cannot read the log: {exc}") from exc

    def attach(self, argv: list[str]) -> int:
        """Run `kubectl attach` in the foreground (stdin, stdout and the TTY are the user's)."""
        return subprocess.run(argv, check=False).returncode

    @staticmethod
    def kubectl() -> str:
        path = shutil.which("kubectl")
        if path is None:
            raise CliError("An attached run needs kubectl on PATH (to attach); or use --detached.")
        return path

    # -- plumbing ---------------------------------------------------------------------------

    def _get_formation(self, name: str) -> dict[str, Any]:
        try:
            return dict(
                self._call(
                    lambda: self.client.get(FormationResource, name, namespace=self.namespace)
                )
            )
        except NotFound as exc:
            raise CliError(
                f"Couldn't find that app ({name} in namespace {self.namespace})."
            ) from exc

    def _list(self, kind: str, labels: dict[str, Any]) -> list[dict[str, Any]]:
        res = KINDS[kind]
        objects: list[dict[str, Any]] = self._call(
            lambda: [
                dict(o) for o in self.client.list(res, namespace=self.namespace, labels=labels)
            ]
        )
        return objects

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ApiError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise CliError(f"Cannot reach the Kubernetes API: {exc}") from exc


def _parse(obj: Any) -> Formation:
    try:
        return Formation.model_validate(dict(obj))
    except ValidationError as exc:
        raise CliError(f"The Formation cannot be read by this dyno CLI: {exc}") from exc


def _error(exc: ApiError) -> CliError:
    """The API server's own message, typed by the status where the CLI reacts to it."""
    kinds = {404: NotFound, 409: AlreadyExists}
    cls = kinds.get(exc.status.code or 0, CliError)
    return cls(exc.status.message or f"the API server answered {exc.status.code}")
