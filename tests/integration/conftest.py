"""Fixtures of the tests that drive the Platform API server and its dashboard: two namespaces,
and two users, each allowed the apps of one (tests/platform_api.py makes them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.platform_api import User, make_user


@pytest.fixture(scope="module")
def spaces(kube: Client) -> Iterator[tuple[str, str]]:
    """Namespaces A and B, for the module."""
    names = (f"api-a-{uuid.uuid4().hex[:6]}", f"api-b-{uuid.uuid4().hex[:6]}")
    for n in names:
        kube.create(Namespace(metadata=ObjectMeta(name=n)))
    yield names
    for n in names:
        kube.delete(Namespace, n)


@pytest.fixture(scope="module")
def users(installed, spaces) -> tuple[User, User]:
    """alice may use the apps of A (and read DynoSizes), bob those of B."""
    a, b = spaces
    return (
        make_user(installed.kubectl, a, "alice", read_sizes=True),
        make_user(installed.kubectl, b, "bob"),
    )
