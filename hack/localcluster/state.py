"""The state file of a cluster: what was started, where, and how to find it again.

Owns `state.json` in a cluster's state directory: pids, binaries, logs, ports, the server URL,
the admin kubeconfig and the etcd data dir. The detached `up` writes it so that a later `status`
or `down` (another Python process) can check or stop exactly those processes; the test fixture
writes it too, which helps when debugging a session's cluster from a shell.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from localcluster import node, processes
from localcluster.node import NodeLayout
from localcluster.processes import Process, runs_binary

STATE_FILE = "state.json"


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    argv: list[str]
    log: str

    @classmethod
    def of(cls, process: Process) -> ProcessRecord:
        return cls(process.name, process.pid, list(process.argv), str(process.log))

    def process(self) -> Process:
        """A handle on the recorded process (not a child of this Python process)."""
        return Process(self.name, self.argv, Path(self.log), self.pid)

    def alive(self) -> bool:
        return runs_binary(self.pid, self.argv[0])


@dataclass(frozen=True)
class ClusterState:
    server: str
    kubeconfig: str
    etcd_data: str
    ports: dict[str, int]
    processes: list[ProcessRecord] = field(default_factory=list)
    started_at: float = 0.0
    ready_seconds: float = 0.0
    real_node: bool = False  # `down` ends its pods, namespace, cgroups and mounts too

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> ClusterState | None:
        """The recorded state, or None if there is none."""
        try:
            raw: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
        except FileNotFoundError:
            return None
        records = [ProcessRecord(**p) for p in raw.pop("processes", [])]
        return cls(**raw, processes=records)

    def dead(self) -> list[str]:
        """Names of recorded processes that no longer run their binary."""
        return [p.name for p in self.processes if not p.alive()]


def stop_recorded(state_dir: Path) -> list[str]:
    """Stop the recorded processes that still run their binary; remove the state file.

    Returns the names of the processes that were stopped. Nothing else is signalled.
    """
    state = ClusterState.read(state_dir)
    if state is None:
        return []
    stopped = []
    for record in reversed(state.processes):
        if record.alive():
            processes.stop(record.process())
            stopped.append(record.name)
    if state.real_node:
        node.teardown(NodeLayout.of(state_dir))
    shutil.rmtree(state.etcd_data, ignore_errors=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped
