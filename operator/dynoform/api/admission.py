"""Admission in the API server itself: the policies that judge and stamp every Formation write.

No webhook sits on the path of `kubectl apply` or `dyno ps:scale`: the API server evaluates
these policies in-process (CEL), so a write never waits on the operator, and the operator being
down changes nothing at apply time.

- `formations.dyno.dev`: a ValidatingAdmissionPolicy for the process types' names (CRD CEL
  cannot afford a regular expression over map keys; a policy is only limited at run time).
- `catalog.formations.dyno.dev`: the size catalog's rules, a ValidatingAdmissionPolicy whose
  params are the DynoSize objects (built-in sizes are shipped as DynoSize objects too). The API
  server evaluates it once per DynoSize, each time with that size as `params`: the per-size
  rules (one dyno for sizes that do not scale horizontally, a size's maximum, autoscaling
  bounds) read the size itself; the rules that need the whole catalog (an unknown size, tiers
  that do not mix) read the index the operator keeps in every DynoSize's status
  (`status.catalog`).
- `stamp.formations.dyno.dev`: a MutatingAdmissionPolicy (admissionregistration v1beta1,
  Kubernetes 1.34+) that stamps who changed quantities or sizes, for the history.

The words are those of dynoform.api.sizes, which the CLI and the operator use: a test compares
them on the real API server.
"""

from __future__ import annotations

from typing import Any, Literal

from dynoform.api.labels import CHANGED_BY, CHANGED_TO
from dynoform.api.process import DEFAULT_SIZE, ONE_SIZE_TIERS, PROCESS_TYPE_PATTERN, SINGLETON_TYPES
from dynoform.api.schedule import RANGE_BACKWARDS, ranges_upward_cel
from dynoform.api.scheduled import JOB_NAME_CLASH
from dynoform.api.sizes import BUILTIN, EXCLUSIVE_TIERS
from dynoform.api.v1alpha1 import GROUP, VERSION, FormationSpec
from dynoform.api.windows import AUTOSCALED_NOT_WINDOWED, UNKNOWN_ZONE, time_zones

Obj = dict[str, Any]

NAMES_POLICY = f"formations.{GROUP}"
CATALOG_POLICY = f"catalog.formations.{GROUP}"
STAMP_POLICY = f"stamp.formations.{GROUP}"
_FORMATIONS = {
    "apiGroups": [GROUP],
    "apiVersions": ["*"],
    "operations": ["CREATE", "UPDATE"],
    "resources": ["formations"],
}


# --- CEL pieces ---------------------------------------------------------------------------


def _proc(obj: str, t: str = "t") -> str:
    return f"{obj}.spec.processes[{t}]"


def _quantity(obj: str = "object", t: str = "t") -> str:
    """The effective quantity, as FormationSpec.quantity_of: 1 for web, 0 for others."""
    p = _proc(obj, t)
    return f"(has({p}.quantity) ? {p}.quantity : ({t} == 'web' ? 1 : 0))"


def _size(obj: str = "object", t: str = "t") -> str:
    """The type's size, or the app's default (FormationSpec.size_of) for one that names none."""
    p = _proc(obj, t)
    return f"(has({p}.size) ? {p}.size.lowerAscii() : variables.defaultSize)"


def _job_size(j: str = "j") -> str:
    """A scheduled job's size, or the app's default (FormationSpec.job_size_of)."""
    p = f"object.spec.jobs[{j}]"
    return f"(has({p}.size) ? {p}.size.lowerAscii() : variables.defaultSize)"


def _and_list(items: str) -> str:
    """'a', 'a and b', 'a, b and c', as dynoform.api.sizes words a list."""
    last = f"{items}[{items}.size() - 1]"
    return (
        f"({items}.size() == 1 ? {items}[0] : "
        f"{items}.slice(0, {items}.size() - 1).join(', ') + ' and ' + {last})"
    )


def _validation(expression: str, message: str, reason: str = "Invalid") -> Obj:
    return {"expression": expression, "messageExpression": message, "reason": reason}


# --- the names policy ---------------------------------------------------------------------


def names_policy() -> list[Obj]:
    valid = f"t.matches('{PROCESS_TYPE_PATTERN}')"
    check = _validation(
        f"object.spec.processes.all(t, {valid})",
        "'spec.processes: invalid process type names: ' + "
        f"object.spec.processes.filter(t, !{valid}).join(', ') + ' (lowercase letters, "
        "digits and -, starting with a letter and ending with a letter or digit)'",
    )
    valid_job = f"j.matches('{PROCESS_TYPE_PATTERN}')"
    jobs = _validation(
        f"!has(object.spec.jobs) || object.spec.jobs.all(j, {valid_job})",
        "'spec.jobs: invalid scheduled job names: ' + "
        f"object.spec.jobs.filter(j, !{valid_job}).join(', ') + ' (lowercase letters, "
        "digits and -, starting with a letter and ending with a letter or digit)'",
    )
    # A job named as a process type: both would be dynos of that name (`dyno ps`, labels).
    clash = _validation(
        "!has(object.spec.jobs) || object.spec.jobs.all(j, !(j in object.spec.processes))",
        "'spec.jobs: ' + object.spec.jobs.filter(j, j in object.spec.processes).join(', ') + "
        f"': {JOB_NAME_CLASH}'",
    )
    upward = ranges_upward_cel("object.spec.jobs[j].schedule")
    backwards = f"object.spec.jobs.filter(j, !({upward}))"
    ranges = _validation(
        f"!has(object.spec.jobs) || object.spec.jobs.all(j, {upward})",
        f"{backwards}.map(j, 'spec.jobs[' + j + '].schedule: \"' + object.spec.jobs[j].schedule"
        f" + '\" {RANGE_BACKWARDS}')[0]",
    )
    checks = [check, jobs, clash, ranges, *_window_checks()]
    return _validating(NAMES_POLICY, {}, _WINDOW_VARIABLES, checks, None)


# Scale windows: the rules across fields that the CRD cannot afford (dynoform.api.windows says
# the same for the model), each message naming the window, the first by name.
_W = "object.spec.scaleWindows"
_WINDOW_VARIABLES = [
    {"name": "windows", "expression": f"has({_W}) ? {_W}.map(w, w).sort() : []"},
    {"name": "zones", "expression": str(sorted(time_zones()))},
]


def _window_rule(bad_type: str, say: str) -> Obj:
    """A check that no window names a type for which `bad_type` (CEL over `t`, in window `w`)
    holds; `say`: CEL for the message of the first such type `t` of the first such window."""
    quantities = f"{_W}[w].quantities"
    bad = f"variables.windows.filter(w, {quantities}.exists(t, {bad_type}))"
    first = f"{quantities}.map(t, t).sort().filter(t, {bad_type})"
    return _validation(
        f"{bad}.size() == 0",
        f"{bad}.map(w, {first}.map(t, 'scale window ' + w + ': ' + {say})[0])[0]",
    )


def _window_checks() -> list[Obj]:
    valid = f"w.matches('{PROCESS_TYPE_PATTERN}')"
    names = _validation(
        f"variables.windows.all(w, {valid})",
        "'spec.scaleWindows: invalid scale window names: ' + "
        f"variables.windows.filter(w, !{valid}).join(', ') + ' (lowercase letters, "
        "digits and -, starting with a letter and ending with a letter or digit)'",
    )
    zone = f"{_W}[w].?timeZone.orValue('UTC')"
    zones = _validation(
        f"variables.windows.all(w, {zone} in variables.zones)",
        f"variables.windows.filter(w, !({zone} in variables.zones)).map(w, "
        f"'spec.scaleWindows.' + w + '.timeZone: \\'' + {zone} + '\\': {UNKNOWN_ZONE}')[0]",
    )
    procs = "object.spec.processes"
    singleton = f"(has({procs}[t].singleton) ? {procs}[t].singleton : t in {list(SINGLETON_TYPES)})"
    return [
        names,
        zones,
        _window_rule(f"!(t in {procs})", "'no such process type as ' + t"),
        _window_rule(
            f"t in {procs} && has({procs}[t].autoscaling)",
            f"t + ': {AUTOSCALED_NOT_WINDOWED}'",
        ),
        _window_rule(
            f"t in {procs} && {singleton} && {_W}[w].quantities[t] > 1",
            "t + ' is a singleton process type and runs at most 1 dyno (' + t + '=' + "
            f"string({_W}[w].quantities[t]) + ')'",
        ),
    ]


# --- the catalog policy -------------------------------------------------------------------

_NAMED = (
    "object.spec.processes.map(t, t).filter(t, has(object.spec.processes[t].size))"
    ".map(t, object.spec.processes[t].size.lowerAscii())"
)
_VARIABLES = [
    {"name": "types", "expression": "object.spec.processes.map(t, t).sort()"},
    # dynoform.api.process.default_size: a one-size tier (eco, basic) when every type that
    # names a size names it, otherwise standard-1x.
    {"name": "named", "expression": _NAMED},
    {
        "name": "defaultSize",
        "expression": "variables.named.size() > 0 && variables.named.all(s, s == "
        f"variables.named[0]) && variables.named[0] in {list(ONE_SIZE_TIERS)} ? "
        f"variables.named[0] : '{DEFAULT_SIZE}'",
    },
    {
        "name": "jobs",
        "expression": "has(object.spec.jobs) ? object.spec.jobs.map(j, j).sort() : []",
    },
    {"name": "windows", "expression": f"has({_W}) ? {_W}.map(w, w).sort() : []"},
    # The operator's index of the whole catalog; empty until it has written it.
    {"name": "catalog", "expression": "params.?status.?catalog.orValue([])"},
    {"name": "known", "expression": "variables.catalog.map(s, s.name)"},
    {"name": "available", "expression": _and_list("variables.known")},
    {
        "name": "display",
        "expression": "params.spec.?displayName.orValue(params.metadata.name)",
    },
    {
        "name": "horizontal",
        "expression": "params.spec.?horizontalScaling.orValue(true)",
    },
    # Each process type's size, resolved once: the policy runs once per DynoSize, and most of
    # those runs only need to see that no type is on their size (see `usesMe`).
    {"name": "sizes", "expression": f"object.spec.processes.map(t, {_size()})"},
    {"name": "usesMe", "expression": "params.metadata.name in variables.sizes"},
    # The process types on this DynoSize, sorted (the messages name the first).
    {
        "name": "mine",
        "expression": f"variables.types.filter(t, {_size()} == params.metadata.name)",
    },
    {"name": "used", "expression": "variables.catalog.filter(s, s.name in variables.sizes)"},
]


def _catalog_checks() -> list[Obj]:
    q, size = _quantity(), _size()
    proc = _proc("object")
    unknown = f"variables.types.filter(t, !({size} in variables.known))"
    over_one = f"variables.mine.filter(t, {q} > 1)"
    over_max = f"variables.mine.filter(t, {q} > params.spec.maxQuantity)"
    scaled = f"variables.mine.filter(t, has({proc}.autoscaling))"
    scaled_over = f"{scaled}.filter(t, {proc}.autoscaling.max > params.spec.maxQuantity)"
    exclusive = str(list(EXCLUSIVE_TIERS))
    unknown_jobs = f"variables.jobs.filter(j, !({_job_size()} in variables.known))"
    max_q = "string(params.spec.maxQuantity)"
    window_one = _catalog_window_rule(
        "!variables.horizontal",
        1,
        "'Cannot run more than 1 ' + variables.display + ' dyno per process type (' + {said}"
        " + '). Upgrade to a larger dyno first before adding more dynos.'",
    )
    window_max = _catalog_window_rule(
        "has(params.spec.maxQuantity)",
        "params.spec.maxQuantity",
        f"'Cannot run more than ' + {max_q} + ' ' + variables.display + ' dynos per process "
        "type (' + {said} + ').'",
    )
    # The per-size rules first ask whether any type is on this size: cheap, and false in
    # most of the policy's runs (one per DynoSize).
    mine = "!variables.usesMe || "
    return [
        _validation(
            "variables.known.size() == 0 || variables.sizes.all(s, s in variables.known)",
            f"{unknown}.map(t, 'No such size as ' + {size} + ' (process type ' + t + "
            "'). Available dyno sizes are ' + variables.available + '.')[0]",
            "Invalid",
        ),
        _validation(
            "variables.known.size() == 0 || !has(object.spec.release) || "
            "object.spec.release.size.lowerAscii() in variables.known",
            "'No such size as ' + object.spec.release.size.lowerAscii() + ' (release). "
            "Available dyno sizes are ' + variables.available + '.'",
            "Invalid",
        ),
        _validation(
            f"variables.known.size() == 0 || {unknown_jobs}.size() == 0",
            f"{unknown_jobs}.map(j, 'No such size as ' + {_job_size()} + ' (scheduled job ' + "
            "j + '). Available dyno sizes are ' + variables.available + '.')[0]",
            "Invalid",
        ),
        _validation(
            f"variables.horizontal || {mine}{over_one}.size() == 0",
            f"{over_one}.map(t, 'Cannot run more than 1 ' + variables.display + ' dyno per "
            f"process type (' + t + '=' + string({q}) + '). Upgrade to a larger dyno first "
            "before adding more dynos.')[0]",
        ),
        _validation(
            f"!has(params.spec.maxQuantity) || {mine}{over_max}.size() == 0",
            f"{over_max}.map(t, 'Cannot run more than ' + {max_q} + ' ' + variables.display + "
            f"' dynos per process type (' + t + '=' + string({q}) + ').')[0]",
        ),
        window_one,
        window_max,
        _validation(
            f"variables.horizontal || {mine}{scaled}.size() == 0",
            f"{scaled}.map(t, 'Cannot autoscale ' + variables.display + ' dynos (' + t + "
            "'): they do not scale horizontally. Upgrade to a larger dyno first.')[0]",
        ),
        _validation(
            f"!has(params.spec.maxQuantity) || {mine}{scaled_over}.size() == 0",
            f"{scaled_over}.map(t, 'Cannot autoscale ' + t + ' to more than ' + {max_q} + ' ' "
            f"+ variables.display + ' dynos (autoscaling.max ' + string({proc}.autoscaling.max)"
            " + ').')[0]",
        ),
        _validation(
            f"!variables.used.exists(s, s.tier in {exclusive}) || "
            "variables.used.all(s, s.tier == variables.used[0].tier)",
            "'Cannot use the following dyno types in the same app: ' + "
            + _and_list("variables.used.map(s, s.displayName)"),
        ),
    ]


def _catalog_window_rule(applies: str, most: int | str, message: str) -> Obj:
    """No scale window asks for more than `most` dynos of a type on this size (when `applies`);
    `message`: CEL, with `{said}` for `web=2 in scale window night`."""
    quantities = f"{_W}[w].quantities"
    over = f"t in variables.mine && {quantities}[t] > {most}"
    bad = f"variables.windows.filter(w, {quantities}.exists(t, {over}))"
    said = f"t + '=' + string({quantities}[t]) + ' in scale window ' + w"
    first = f"{quantities}.map(t, t).sort().filter(t, {over})"
    return _validation(
        f"!({applies}) || !variables.usesMe || {bad}.size() == 0",
        f"{bad}.map(w, {first}.map(t, {message.format(said=said)})[0])[0]",
    )


def catalog_policy() -> list[Obj]:
    param_kind = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DynoSize"}
    # Every DynoSize is a param; none at all (the shipped sizes not installed) skips the
    # policy, and the operator still refuses what the catalog forbids when it reconciles.
    param_ref = {"selector": {}, "parameterNotFoundAction": "Allow"}
    # Ignore, not Fail: for up to 30 s after the API server starts (and after the DynoSize CRD
    # is created) it cannot resolve a CRD paramKind from its discovery cache and would refuse
    # every Formation write with "failed to configure policy" (kubernetes#124237). Such a
    # write is let through instead and the operator refuses what the catalog forbids
    # (decision 0020).
    return _validating(
        CATALOG_POLICY, param_kind, _VARIABLES, _catalog_checks(), param_ref, failure="Ignore"
    )


def _validating(
    name: str,
    param_kind: Obj,
    variables: list[Obj],
    checks: list[Obj],
    param_ref: Obj | None,
    failure: Literal["Fail", "Ignore"] = "Fail",
) -> list[Obj]:
    spec: Obj = {"failurePolicy": failure}
    if param_kind:
        spec["paramKind"] = param_kind
    spec["matchConstraints"] = {"resourceRules": [_FORMATIONS]}
    if variables:
        spec["variables"] = variables
    spec["validations"] = checks
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }
    binding_spec: Obj = {"policyName": name, "validationActions": ["Deny"]}
    if param_ref is not None:
        binding_spec["paramRef"] = param_ref
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": binding_spec,
    }
    return [policy, binding]


# --- the stamp ----------------------------------------------------------------------------


def _shape_cel(obj: str) -> str:
    """CEL for `shape`: the quantities and sizes as written, sorted by type."""
    p = _proc(obj)
    count = (
        f"(has({p}.autoscaling) ? string({p}.autoscaling.min) + '..' + "
        f"string({p}.autoscaling.max) : has({p}.quantity) ? string({p}.quantity) : '')"
    )
    size = f"(has({p}.size) ? {p}.size.lowerAscii() : '')"
    return f"{obj}.spec.processes.map(t, t).sort().map(t, t + '=' + {count} + ':' + {size})"


def shape(spec: FormationSpec) -> str:
    """What the stamp records of a Formation: each type's quantity (or autoscaling bounds) and
    size as written, sorted by type (`web=2:standard-1x worker=:basic`), the same string the
    MutatingAdmissionPolicy computes in CEL. The operator credits a change to the stamped user
    only while the Formation still has this shape."""
    parts = []
    for ptype in sorted(spec.processes):
        proc = spec.processes[ptype]
        if proc.autoscaling is not None:
            count = f"{proc.autoscaling.min}..{proc.autoscaling.max}"
        else:
            count = "" if proc.quantity is None else str(proc.quantity)
        parts.append(f"{ptype}={count}:{proc.size or ''}")
    return " ".join(parts)


def stamp_policy() -> list[Obj]:
    new, old = _shape_cel("object"), _shape_cel("oldObject")
    annotations = (
        f'{{"{CHANGED_BY}": request.userInfo.username, "{CHANGED_TO}": {new}.join(\' \')}}'
    )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1beta1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": STAMP_POLICY},
        "spec": {
            # Mutating policies run before the CRD's schema: a body that does not parse (no
            # processes, a quantity that is no number) makes the CEL fail, and Ignore leaves
            # it to the schema to refuse in its own words. A valid body never fails.
            "failurePolicy": "Ignore",
            "matchConstraints": {"resourceRules": [_FORMATIONS]},
            # Only a change of quantities or sizes is stamped (an image change keeps the
            # user who last scaled).
            "matchConditions": [
                {
                    "name": "scaled-or-resized",
                    "expression": f"oldObject == null || {old} != {new}",
                }
            ],
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {
                        "expression": "Object{metadata: Object.metadata{annotations: "
                        f"{annotations}}}}}"
                    },
                }
            ],
            "reinvocationPolicy": "IfNeeded",
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1beta1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": STAMP_POLICY},
        "spec": {"policyName": STAMP_POLICY},
    }
    return [policy, binding]


# --- the shipped sizes --------------------------------------------------------------------


def builtin_sizes() -> list[Obj]:
    """Heroku's built-in sizes as DynoSize objects: the catalog policy's params."""
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DynoSize",
            "metadata": {"name": name},
            "spec": spec.wire(),
        }
        for name, spec in BUILTIN.items()
    ]
