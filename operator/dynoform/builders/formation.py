"""A whole Formation -> every child it should have (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.builders.deployment import build_deployment
from dynoform.builders.meta import Manifest
from dynoform.builders.pdb import build_pdb
from dynoform.builders.service import build_service


def build_children(formation: Formation, sizes: Mapping[str, DynoSizeSpec]) -> list[Manifest]:
    """Deployments, Services and PDBs for every process type, in a stable order.

    `sizes` maps each process type to its resolved size (dynoform.sizes.check).
    """
    children: list[Manifest] = []
    for ptype in sorted(formation.spec.processes):
        children.append(build_deployment(formation, ptype, sizes[ptype]))
        for extra in (build_service(formation, ptype), build_pdb(formation, ptype)):
            if extra is not None:
                children.append(extra)
    return children
