"""Formation -> the Job of its release phase (pure).

Heroku's release phase runs a Procfile's `release:` command once for each new release, in a
one-off dyno, and the app's dynos move to it only when the command succeeds. Here: a Job running
`spec.release.command` with the new image and the app's config vars, built by the same builder as
a dyno (so it gets the size's resources and the restricted security context), that never
retries (a failure waits for the next image) and stops after Heroku's one hour. Its name carries
a digest of the image, so each image is released once, and a Job that already ran for an image
is the record of that release.

The Job's pods carry no `dyno.dev/process-type` label: no Deployment, Service or PDB selects them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dynoform.api.dyno import run_once_pod
from dynoform.api.labels import LABEL_FORMATION, LABEL_MANAGED_BY, LABEL_SIZE, MANAGED_BY
from dynoform.api.v1alpha1 import RELEASE, DynoSizeSpec, Formation, ProcessType
from dynoform.core.builders.meta import Manifest, owner_reference

RELEASE_TIMEOUT_SECONDS = 3600  # Heroku: a release phase that runs longer than an hour fails.
LABEL_RELEASE = "dyno.dev/release"  # value: the image digest of the Job's name


def image_digest(image: str) -> str:
    return hashlib.sha256(image.encode()).hexdigest()[:10]


def release_job_name(formation: Formation) -> str:
    """`<formation>-release-<digest of spec.image>`, within 63 characters."""
    return f"{formation.name[:44]}-release-{image_digest(formation.spec.image)}"


def release_labels(formation: Formation) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": formation.name,
        "app.kubernetes.io/instance": formation.name,
        "app.kubernetes.io/component": RELEASE,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_FORMATION: formation.name,
        LABEL_RELEASE: image_digest(formation.spec.image),
    }


def build_release_job(formation: Formation, size: DynoSizeSpec) -> Manifest:
    """The Job that releases `spec.image`; `size` is spec.release.size, resolved."""
    release = formation.spec.release
    if release is None:
        raise ValueError(f"Formation {formation.name} has no release phase")
    labels = release_labels(formation)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": release_job_name(formation),
            "namespace": formation.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(formation)],
        },
        "spec": {
            "backoffLimit": 0,  # run once, as Heroku does; the next image tries again
            "activeDeadlineSeconds": RELEASE_TIMEOUT_SECONDS,
            "template": {
                "metadata": {"labels": {**labels, LABEL_SIZE: release.size}},
                "spec": _pod(formation, size),
            },
        },
    }


def _pod(formation: Formation, size: DynoSizeSpec) -> dict[str, Any]:
    """A dyno's pod for a process type `release` that runs the release command, made a run
    to completion: never restarted, not spread (one pod)."""
    release = formation.spec.release
    assert release is not None
    proc = ProcessType(command=release.command, size=release.size)
    pod = run_once_pod(formation, RELEASE, proc, size)
    # A failed command's last log lines become its termination message (80 lines, 2 KB at
    # most), which the operator reads from the pod it watches anyway and puts in status.
    pod["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return pod
