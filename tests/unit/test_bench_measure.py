"""The benchmark's reading of the operator's memory and CPU: a process with its children."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.measure import cpu_seconds, family, pss_mib


@pytest.fixture
def busy_child() -> Iterator[subprocess.Popen[bytes]]:
    """A child that has burnt some CPU and holds 64 MiB of its own, then waits."""
    code = (
        "import sys, time\n"
        'x = b"x" * (64 << 20)\n'
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    yield child
    child.kill()
    child.wait()


def test_the_family_of_a_process_holds_its_children(busy_child: subprocess.Popen[bytes]) -> None:
    assert family(os.getpid())[0] == os.getpid()
    assert busy_child.pid in family(os.getpid())
    assert family(busy_child.pid) == [busy_child.pid]


def test_memory_and_cpu_count_the_children_too(busy_child: subprocess.Popen[bytes]) -> None:
    child = pss_mib(busy_child.pid)
    assert child > 60  # its own 64 MiB
    assert pss_mib(os.getpid()) > child  # ours with it
    assert cpu_seconds(busy_child.pid) >= 0.25
    assert cpu_seconds(os.getpid()) >= cpu_seconds(busy_child.pid)
