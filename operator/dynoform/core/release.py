"""Heroku's release phase, level-based (pure): which image the dynos run, and the release Job.

The image currently released lives in `status.releasedImage`. Each reconcile derives the rest
from it, spec.image and the observed release Job, so the same inputs always give the same plan:
- no release phase: the dynos run spec.image;
- spec.image is the released image: nothing to do (a restart never reruns a release);
- otherwise a release is due: the Job for spec.image (named after its digest) is wanted, and the
  dynos stay on the released image until that Job has succeeded; then they move, and the status
  written after that apply records the new released image. Should that status write be lost, the
  succeeded Job, kept until the next image, still says so. A failed Job stays too (its pods'
  logs say why), and holds every type on the released image until spec.image changes again.
Before anything was released (a new Formation) no dyno runs. A Formation whose status has no
released image (one from before the release phase, or restored without status) adopts the image
its Deployments run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynoform.api import conditions as c
from dynoform.api.labels import child_name
from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.core.builders.meta import Manifest
from dynoform.core.builders.release import build_release_job, release_job_name

Verdict = tuple[bool, str, str]  # (ok, reason, message)
Children = Mapping[tuple[str, str], Mapping[str, Any]]  # (kind, name) -> observed object


@dataclass(frozen=True)
class ReleasePlan:
    """What the reconcile does about the release phase."""

    image: str | None  # what the Deployments run; None: nothing released yet, so no dynos
    job: Manifest | None = None  # the release Job wanted (created when missing, never updated)
    keep: str | None = None  # the release Job that is never pruned: spec.image's
    verdict: Verdict | None = None  # the Released condition; None without a release phase

    @property
    def held(self) -> bool:
        """A release is due or failed: the dynos are not on spec.image (Ready says so)."""
        return self.verdict is not None and not self.verdict[0]


def plan(
    formation: Formation, children: Children, size: DynoSizeSpec | None, logs: str = ""
) -> ReleasePlan:
    """`size`: spec.release.size, resolved (dynoform.api.sizes.check_release); `logs`: how the
    release Job's pod ended when it failed (`exit N:` and the last lines of its log)."""
    spec = formation.spec
    target = spec.image
    if spec.release is None or size is None:
        return ReleasePlan(image=target)
    released = released_image(formation, children)
    name = release_job_name(formation)
    if released == target:
        return ReleasePlan(target, keep=name, verdict=_released(target))
    job = children.get(("Job", name))
    body = build_release_job(formation, size)
    failed = job_failure(job)
    if job_succeeded(job):
        return ReleasePlan(target, body, name, _released(target))
    if failed is not None:
        message = (
            f"The release command failed for {target}: {failed} (kubectl logs job/{name}). "
            f"{_held(released)} Change the image to try again.{_last_lines(logs)}"
        )
        return ReleasePlan(released, body, name, (False, c.RELEASE_FAILED, message))
    message = f"Running the release command for {target} in Job {name}. {_held(released)}"
    return ReleasePlan(released, body, name, (False, c.RELEASE_RUNNING, message))


def released_image(formation: Formation, children: Children) -> str | None:
    """status.releasedImage, or else the image the Deployments run (adopted)."""
    if formation.status is not None and formation.status.released_image:
        return formation.status.released_image
    for ptype in sorted(formation.spec.processes):
        deployment = children.get(("Deployment", child_name(formation, ptype)))
        containers = _get(deployment, "spec", "template", "spec", "containers") or []
        if containers and containers[0].get("image"):
            return str(containers[0]["image"])
    return None


def job_succeeded(job: Mapping[str, Any] | None) -> bool:
    return _condition(job, "Complete") is not None


def job_failure(job: Mapping[str, Any] | None) -> str | None:
    """`Reason: message` of a failed Job, else None (running, or not there)."""
    cond = _condition(job, "Failed")
    if cond is None:
        return None
    return f"{cond.get('reason') or 'Failed'}: {cond.get('message') or 'the Job failed'}"


def _condition(job: Mapping[str, Any] | None, ctype: str) -> Mapping[str, Any] | None:
    # Complete and Failed are terminal: the Job's pods have ended (SuccessCriteriaMet and
    # FailureTarget come first, while pods may still be stopping).
    for cond in _get(job, "status", "conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            return dict(cond)
    return None


LAST_LINES = 10


def _last_lines(logs: str) -> str:
    """The end of the release command's output, as its pod's termination message gives it."""
    code, _, text = logs.partition(": ")
    lines = [line for line in text.splitlines() if line.strip()][-LAST_LINES:]
    if not code:
        return ""
    if not lines:
        return f" The command ended with {code}."
    return f" The command ended with {code}; its last lines:\n" + "\n".join(lines)


def _released(image: str) -> Verdict:
    return True, c.RELEASE_SUCCEEDED, f"Released {image}."


def _held(released: str | None) -> str:
    if released is None:
        return "No dyno runs until a release succeeds."
    return f"Every process type stays on {released}."


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj
