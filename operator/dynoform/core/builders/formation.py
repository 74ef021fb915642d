"""A whole Formation -> every child it should have (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.core.builders.autoscaler import autoscaler_kind, build_autoscaler
from dynoform.core.builders.cronjob import build_cronjob
from dynoform.core.builders.deployment import build_deployment
from dynoform.core.builders.meta import Manifest
from dynoform.core.builders.pdb import build_pdb
from dynoform.core.builders.service import build_service
from dynoform.core.builders.sleep import build_http_scaled_object, sleeps


def build_children(
    formation: Formation,
    sizes: Mapping[str, DynoSizeSpec],
    keda: bool = False,
    jobs: Mapping[str, DynoSizeSpec] | None = None,
    http_add_on: bool = False,
) -> list[Manifest]:
    """Deployments, Services, PDBs and autoscalers for every process type, then a CronJob for
    every scheduled job, in a stable order.

    `sizes` maps each process type to its resolved size (dynoform.api.sizes.check), `jobs` each
    scheduled job to its own (check_jobs); `keda` says whether the cluster has KEDA's
    ScaledObject (queue targets need it), `http_add_on` whether it has the KEDA HTTP add-on's
    HTTPScaledObject (an eco web type sleeps through it).
    """
    children: list[Manifest] = []
    for ptype in sorted(formation.spec.processes):
        # An autoscaler or the HTTP add-on owns the replicas: the Deployment leaves them out.
        autoscaled = autoscaler_kind(formation, ptype, keda) is not None or sleeps(
            formation, ptype, http_add_on
        )
        children.append(build_deployment(formation, ptype, sizes[ptype], autoscaled))
        for extra in (
            build_service(formation, ptype),
            build_pdb(formation, ptype),
            build_autoscaler(formation, ptype, keda),
            build_http_scaled_object(formation, ptype, http_add_on),
        ):
            if extra is not None:
                children.append(extra)
    for job in sorted(jobs or {}):
        children.append(build_cronjob(formation, job, (jobs or {})[job]))
    return children
