"""Names shared by the operator, the CLI and the chart: labels and the names of children.

Every child of a Formation is named `<formation>-<type>` and carries these labels; clients
select a Formation's dynos by them (the CLI's `ps`, `logs`, `run`), and the operator watches only
what carries its managed-by label. Changing one is an API change.
"""

from __future__ import annotations

from dynoform.api.v1alpha1 import Formation

MANAGED_BY = "dynoform"
LABEL_FORMATION = "dyno.dev/formation"
LABEL_TYPE = "dyno.dev/process-type"
LABEL_SIZE = "dyno.dev/size"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
# A scheduled job's CronJob, its Jobs and their pods: the job's name. Its Jobs are the CronJob
# controller's, not ours: their managed-by is SCHEDULER_MANAGED_BY, so the operator never
# watches, prunes or adopts them.
LABEL_JOB = "dyno.dev/scheduled-job"
SCHEDULER_MANAGED_BY = "dyno-scheduler"
SCHEDULER = "scheduler"  # the process type of scheduled dynos, as Heroku's `scheduler.N`
# The audit stamp (dynoform.api.admission): who last changed quantities or sizes, and to what.
CHANGED_BY = "dyno.dev/changed-by"
CHANGED_TO = "dyno.dev/changed-to"
# The label selector every watch of our children uses (filtered server-side).
CHILD_LABELS = {LABEL_MANAGED_BY: MANAGED_BY}
# What `kubectl rollout restart` sets on a pod template; the CLI and the Platform API restart so.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def child_name(formation: Formation, ptype: str) -> str:
    """`shop-web`: the Deployment (and Service, PDB, autoscaler) of a process type."""
    return f"{formation.name}-{ptype}"


def cronjob_name(formation: Formation, job: str) -> str:
    """`shop-nightly`: a scheduled job's CronJob (at most 52 characters, the API sees to it)."""
    return f"{formation.name}-{job}"
