"""Factories that build real models for the tests (no mocks of the API types)."""

from __future__ import annotations

from typing import Any

from dynoform.api.v1alpha1 import Formation


def formation_body(name: str = "shop", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    """A Formation manifest; `spec` keys replace the defaults (camelCase, as on the wire)."""
    base: dict[str, Any] = {
        "image": "registry.example/shop:v1",
        "processes": {
            "web": {"command": "bundle exec puma -p $PORT", "quantity": 2},
            "worker": {"command": "bundle exec sidekiq", "quantity": 1},
            "clock": {"command": "bundle exec clockwork clock.rb", "quantity": 1},
        },
    }
    base.update(spec)
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": base,
    }


def make_formation(
    name: str = "shop", uid: str = "uid-1", generation: int = 1, **spec: Any
) -> Formation:
    body = formation_body(name, **spec)
    body["metadata"].update(uid=uid, generation=generation)
    return Formation.model_validate(body)
