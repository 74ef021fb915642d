"""Pods -> Heroku dynos (pure): names, states, since when, where they run; shared by the CLI and
the Platform API server.

Deployments do not number their pods, so `web.N` is a position, not an identity: the live pods
of a type sorted by age (oldest first, name as tie-break) are web.1, web.2, ...; pods already
terminating come after them. `ps`, `ps:restart web.2` and `ps:stop web.2` all use this order,
so a name means the same dyno in each as long as no pod came or went in between. The pod's own
name (the `DYNO` config var) is the stable identity, and `ps --json` shows it.

One-off dynos carry their name (`run.3`) in a label, given when they are created.

Scheduled dynos (a scheduled job's runs, named by the CronJob controller) are `scheduler.N`, as
on Heroku: the running ones by age, as a type's dynos are, numbered after the dynos of a
process type that is itself named `scheduler`, so that no name means two dynos. Finished runs
are history (`dyno scheduler`), not dynos.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dynoform.api.dyno import EXEC
from dynoform.api.labels import LABEL_JOB, LABEL_SIZE, LABEL_TYPE, SCHEDULER

ONE_OFF = "run"  # the process type of one-off dynos, as Heroku's
LABEL_ONE_OFF = "dyno.dev/one-off"  # value: the one-off dyno's name, e.g. run.3
ZONE_LABEL = "topology.kubernetes.io/zone"
EPOCH = "1970-01-01T00:00:00Z"

# Container reasons that mean the process cannot run: Heroku's "crashed".
CRASH_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "RunContainerError",
        "CreateContainerError",
        "CreateContainerConfigError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
    }
)


@dataclass(frozen=True)
class DynoRef:
    """A process type (`web`) or one dyno of it (`web.2`)."""

    ptype: str
    number: int | None = None

    @property
    def one_off(self) -> bool:
        return self.ptype == ONE_OFF

    def __str__(self) -> str:
        return self.ptype if self.number is None else f"{self.ptype}.{self.number}"


@dataclass(frozen=True)
class Dyno:
    """One dyno as `ps` shows it."""

    name: str
    type: str
    number: int
    state: str  # up, starting, crashed or down (Heroku's states)
    updated_at: datetime  # when it entered that state, as Heroku's `updated_at`
    command: str
    size: str
    pod: str
    node: str | None = None
    zone: str | None = None
    job: str | None = None  # the Job of a detached one-off dyno or of a scheduled one
    scheduled: str | None = None  # the scheduled job a scheduled dyno runs
    restarts: int = 0  # times its process was restarted in place (a crash, a kill, OOM)

    def json(self) -> dict[str, Any]:
        out = asdict(self)
        out["updated_at"] = self.updated_at.isoformat().replace("+00:00", "Z")
        return out


def from_pods(pods: Iterable[Mapping[str, Any]], zones: Mapping[str, str]) -> list[Dyno]:
    """Every pod of a Formation as a dyno, sorted by type then number (`run` first)."""
    pods = list(pods)
    dynos = [_one_off(p, zones) for p in pods if _labels(p).get(LABEL_ONE_OFF)]
    by_type = _by_type(pods)
    for ptype, group in by_type.items():
        ordered = sorted(group, key=_age_order)
        dynos += [_make(p, f"{ptype}.{i}", ptype, i, zones) for i, p in enumerate(ordered, 1)]
    scheduled = sorted((p for p in pods if _is_scheduled(p)), key=_age_order)
    first = len(by_type.get(SCHEDULER, [])) + 1
    dynos += [
        _make(p, f"{SCHEDULER}.{i}", SCHEDULER, i, zones) for i, p in enumerate(scheduled, first)
    ]
    return sorted(dynos, key=lambda d: (d.type != ONE_OFF, d.type, d.number))


def _is_scheduled(pod: Mapping[str, Any]) -> bool:
    labels = _labels(pod)
    finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    return bool(labels.get(LABEL_JOB)) and not labels.get(LABEL_TYPE) and not finished


def find(dynos: Iterable[Dyno], ref: DynoRef) -> list[Dyno]:
    """The dynos `web` or `web.2` names."""
    return [d for d in dynos if d.type == ref.ptype and ref.number in (None, d.number)]


def state(pod: Mapping[str, Any]) -> str:
    """Heroku's dyno state from a pod: up, starting, crashed or down."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if pod.get("metadata", {}).get("deletionTimestamp") or phase == "Succeeded":
        return "down"
    if phase == "Failed" or _crashed(status):
        return "crashed"
    if phase == "Running":
        # Ready is False while a readiness probe (web's) has not passed yet.
        return "starting" if _condition(status, "Ready") == "False" else "up"
    return "starting"


def updated_at(pod: Mapping[str, Any], dyno_state: str) -> datetime:
    """When the pod entered its state: Heroku's `updated_at` of a dyno."""
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    if dyno_state == "crashed":
        finished = _finished_at(status)
        if finished:
            return _time(finished)
    if dyno_state == "up":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
                return _time(cond["lastTransitionTime"])
        return _time(status.get("startTime") or meta.get("creationTimestamp") or EPOCH)
    return _time(meta.get("creationTimestamp") or EPOCH)


def command_of(pod: Mapping[str, Any]) -> str:
    """The Procfile command a pod runs (`/bin/sh -c CMD`, or `/bin/sh -c EXEC CMD` -> CMD)."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    argv = [*containers[0].get("command", []), *containers[0].get("args", [])]
    if argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3:
        return str(argv[2])
    if argv[:3] == ["/bin/sh", "-c", EXEC] and len(argv) == 4:
        return str(argv[3])
    return " ".join(str(a) for a in argv)


def unzoned_nodes(pods: Iterable[Mapping[str, Any]]) -> set[str]:
    """Nodes whose zone the pods do not carry themselves (Kubernetes 1.33+ copies the node's
    topology labels onto its pods; older clusters need the Node read)."""
    return {
        n
        for p in pods
        if (n := (p.get("spec") or {}).get("nodeName")) and ZONE_LABEL not in _labels(p)
    }


def zone_of(node: Mapping[str, Any]) -> str | None:
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = labels.get(ZONE_LABEL)
    return str(zone) if zone else None


def _by_type(pods: list[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The formation's pods (not one-offs) grouped by process type."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        ptype = _labels(pod).get(LABEL_TYPE)
        if ptype and not _labels(pod).get(LABEL_ONE_OFF):
            groups.setdefault(ptype, []).append(pod)
    return groups


def _one_off(pod: Mapping[str, Any], zones: Mapping[str, str]) -> Dyno:
    name = str(_labels(pod)[LABEL_ONE_OFF])
    number = name.rpartition(".")[2]
    return _make(pod, name, ONE_OFF, int(number) if number.isdigit() else 0, zones)


def _make(
    pod: Mapping[str, Any], name: str, ptype: str, number: int, zones: Mapping[str, str]
) -> Dyno:
    node = (pod.get("spec") or {}).get("nodeName")
    dyno_state = state(pod)
    return Dyno(
        name=name,
        type=ptype,
        number=number,
        state=dyno_state,
        updated_at=updated_at(pod, dyno_state),
        command=command_of(pod),
        size=str(_labels(pod).get(LABEL_SIZE, "")),
        pod=str(pod["metadata"]["name"]),
        node=node,
        zone=_labels(pod).get(ZONE_LABEL) or (zones.get(node) if node else None),
        job=_job_of(pod),
        scheduled=_labels(pod).get(LABEL_JOB),
        restarts=sum(
            int(cs.get("restartCount") or 0)
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
        ),
    )


def _job_of(pod: Mapping[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            return str(ref["name"])
    return None


def _age_order(pod: Mapping[str, Any]) -> tuple[bool, str, str]:
    meta = pod.get("metadata") or {}
    # RFC 3339 UTC timestamps of the API server sort as strings.
    return bool(meta.get("deletionTimestamp")), meta.get("creationTimestamp", ""), meta["name"]


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def _condition(status: Mapping[str, Any], ctype: str) -> str | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return str(cond.get("status"))
    return None


def _crashed(status: Mapping[str, Any]) -> bool:
    for cs in status.get("containerStatuses") or []:
        st = cs.get("state") or {}
        if "terminated" in st or (st.get("waiting") or {}).get("reason") in CRASH_REASONS:
            return True
    return False


def _finished_at(status: Mapping[str, Any]) -> str | None:
    for cs in status.get("containerStatuses") or []:
        for key in ("state", "lastState"):
            finished = ((cs.get(key) or {}).get("terminated") or {}).get("finishedAt")
            if finished:
                return str(finished)
    return None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
