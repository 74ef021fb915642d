"""Autoscaling of a process type (part of the v1alpha1 API): bounds, targets and what status says.

Heroku autoscales web dynos on their p95 response time, and leaves workers to add-ons. Here any
type that may run several dynos can be autoscaled, the Kubernetes way:
- `cpu`: the dynos' average CPU use, as a share of the size's CPU request (a
  HorizontalPodAutoscaler Resource metric; the cluster needs metrics-server);
- `responseTime`: a p95 in milliseconds, for a type that listens, read from a Pods or External
  metric that a metrics adapter (e.g. prometheus-adapter) serves under a configurable name;
- `queue`: a queue's length per dyno, through KEDA (a ScaledObject), when KEDA is installed.
The rules that CEL can afford are declared beside the fields; the rest (a response time needs a
type that listens) are pydantic's, which the operator and its admission webhook run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from dynoform.api.base import MAX_QUANTITY, Model, cel

# Prometheus' convention: durations in seconds. p95: 500 becomes a target of 500m (0.5 s).
DEFAULT_P95_METRIC = "http_request_duration_seconds_p95"
METRIC_PATTERN = r"^[a-zA-Z_:][a-zA-Z0-9_:.\-]*$"
# Where a KEDA scaler takes its target length (keda.sh/docs/scalers); others name `lengthKey`.
QUEUE_LENGTH_KEYS = {
    "redis": "listLength",
    "rabbitmq": "value",
    "aws-sqs-queue": "queueLength",
    "azure-queue": "queueLength",
    "kafka": "lagThreshold",
}
# Metadata a scaler needs to read a queue's length rather than something else.
QUEUE_DEFAULT_METADATA = {"rabbitmq": {"mode": "QueueLength"}}
HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"


class ResponseTime(Model):
    """Heroku's "Desired p95 Response Time", from a metric a metrics adapter serves."""

    p95: int = Field(ge=1, le=600_000, description="The target p95 response time, in milliseconds.")
    metric: str = Field(
        default=DEFAULT_P95_METRIC,
        min_length=1,
        max_length=253,
        pattern=METRIC_PATTERN,
        description="The metric's name as the metrics adapter serves it, in seconds "
        f"(default {DEFAULT_P95_METRIC}).",
    )
    source: Literal["Pods", "External"] = Field(
        default="Pods",
        description="Pods: a per-dyno metric, averaged over the dynos (AverageValue); "
        "External: one value for the whole type (Value).",
    )
    selector: dict[str, str] | None = Field(
        default=None,
        max_length=16,
        description="Labels that select the metric's series (External metrics).",
    )


class Queue(Model):
    """A queue's length per dyno, scaled on by KEDA."""

    scaler: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="The KEDA scaler type: redis, rabbitmq, aws-sqs-queue, azure-queue, kafka, "
        "or any other with lengthKey.",
    )
    length: int = Field(ge=1, le=1_000_000, description="The target queue length per dyno.")
    length_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="The scaler's metadata key for the target length; known for the scalers "
        "listed under `scaler`.",
    )
    metadata: dict[str, str] | None = Field(
        default=None,
        max_length=64,
        description="The scaler's metadata (address, queue name ...), as in a KEDA trigger.",
    )
    authentication_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="A KEDA TriggerAuthentication in the Formation's namespace.",
    )

    @property
    def target_key(self) -> str:
        return self.length_key or QUEUE_LENGTH_KEYS[self.scaler]

    @model_validator(mode="after")
    def _known_key(self) -> Queue:
        if self.length_key is None and self.scaler not in QUEUE_LENGTH_KEYS:
            raise ValueError(
                f"set queue.lengthKey: the metadata key of the {self.scaler} scaler that takes "
                "the target length"
            )
        return self


_RULES = [
    cel("self.min <= self.max", "autoscaling.min must not exceed autoscaling.max"),
    cel(
        "has(self.cpu) || has(self.responseTime) || has(self.queue)",
        "autoscaling needs a target: cpu, responseTime or queue",
    ),
    cel(
        "!has(self.responseTime) || !has(self.queue)",
        "autoscaling takes a responseTime or a queue target, not both",
    ),
    cel(
        "self.min >= 1 || has(self.queue)",
        "autoscaling.min 0 (scale to zero) needs a queue target (KEDA)",
    ),
]


class Autoscaling(Model):
    """Bounds and targets; `quantity` is where the type starts, the autoscaler moves it."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": list(_RULES)})

    min: int = Field(
        ge=0, le=MAX_QUANTITY, description="The fewest dynos (0 only with a queue target)."
    )
    max: int = Field(ge=1, le=MAX_QUANTITY, description="The most dynos.")
    cpu: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Target average CPU use of the dynos, in % of the size's CPU request.",
    )
    response_time: ResponseTime | None = Field(
        default=None, description="Target p95 response time (a type that listens)."
    )
    queue: Queue | None = Field(default=None, description="Target queue length, through KEDA.")

    @property
    def kind(self) -> str:
        """What carries it: KEDA's ScaledObject for a queue, else a HorizontalPodAutoscaler."""
        return SCALED_OBJECT if self.queue is not None else HPA

    @model_validator(mode="after")
    def _rules(self) -> Autoscaling:
        # The CEL rules above, for the operator, its webhook and the CLI (same wording).
        for ok, rule in (
            (self.min <= self.max, _RULES[0]),
            (self.cpu or self.response_time or self.queue, _RULES[1]),
            (not (self.response_time and self.queue), _RULES[2]),
            (self.min >= 1 or self.queue, _RULES[3]),
        ):
            if not ok:
                raise ValueError(rule["message"])
        return self

    def clamp(self, count: int) -> int:
        """`count` brought within the bounds, as Heroku's "the dyno count immediately adjusts
        to conform to the range"."""
        return max(self.min, min(self.max, count))

    def describe(self) -> str:
        """`2..10 on p95 500 ms` (for status and `dyno ps`)."""
        targets = []
        if self.cpu is not None:
            targets.append(f"CPU {self.cpu}%")
        if self.response_time is not None:
            targets.append(f"p95 {self.response_time.p95} ms")
        if self.queue is not None:
            targets.append(f"{self.queue.scaler} queue {self.queue.length} per dyno")
        return f"{self.min}..{self.max} on " + " and ".join(targets)


class AutoscalerStatus(Model):
    """What the autoscaler of a type does now."""

    kind: str = Field(description="HorizontalPodAutoscaler or ScaledObject (KEDA).")
    min: int = Field(description="The fewest dynos it may run.")
    max: int = Field(description="The most dynos it may run.")
    current: int = Field(description="The dynos it asks for now (the Deployment's replicas).")
