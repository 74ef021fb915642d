"""Hypothesis strategies for Formation manifests: valid ones, and invalid ones that carry the
field a refusal must name.

The rules are the documented ones (docs/reference/formation.md, docs/concepts/validation.md,
the dyno sizes and their limits in docs/concepts/sizes.md), written out here again on purpose:
the fuzzer checks the API server, the admission policy, the webhook and the operator against the
documented contract, not against the operator's own models.

An invalid manifest is a valid one with exactly one defect (a wrong type, a value out of range,
a bad name, a missing or an unknown field), so exactly one layer refuses it and the refusal must
name the defect's field (`Case.path`), or, for the size catalog's Heroku-worded rules, the
words in `Case.hints`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

Obj = dict[str, Any]
Path = tuple[str | int, ...]

# --- The documented contract -----------------------------------------------------------------

NAME_MAX = 63  # '<formation>-<type>' names a Deployment and a Service
TYPE_MAX = 30
MAX_TYPES = 64
MAX_QUANTITY = 1000
MAX_COMMAND = 32768
MAX_IMAGE = 1024
# An image reference as container runtimes parse it (the distribution reference grammar):
# [host[:port]/]path[:tag][@digest], the path's components in lowercase.
_HOST = r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*"
_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,20}"
IMAGE_PATTERN = (
    rf"\A(?:{_HOST}(?::[0-9]{{1,5}})?/)?{_PART}(?:/{_PART}){{0,3}}(?::{_TAG})?"
    r"(?:@sha256:[0-9a-f]{64})?\Z"
)
MAX_ENV = 1024
MAX_LIST = 16  # imagePullSecrets, envFrom
MAX_ID = 2**31 - 1  # runAsUser, runAsGroup, fsGroup: Kubernetes' user and group ids
RESERVED_ENV = ("PORT", "DYNO", "DYNO_TYPE", "DYNO_SIZE")
SINGLETONS = ("clock", "scheduler")
# size -> (the most dynos per process type, its tier); eco and basic mix with no other tier.
SIZES = {
    "eco": (1, "eco"),
    "basic": (1, "basic"),
    "standard-1x": (1000, "pro"),
    "standard-2x": (1000, "pro"),
    "performance-m": (10, "pro"),
    "performance-l": (10, "pro"),
    "performance-l-ram": (10, "pro"),
    "performance-xl": (10, "pro"),
    "performance-2xl": (10, "pro"),
}
DISPLAY = {"eco": "Eco", "basic": "Basic", "standard-1x": "Standard-1X"}
SPREAD = ("ScheduleAnyway", "DoNotSchedule")

# --- Valid manifests ---------------------------------------------------------------------------


def label(max_size: int) -> st.SearchStrategy[str]:
    """A DNS label of 1..max_size characters starting with a letter."""
    return st.from_regex(rf"\A[a-z](?:[-a-z0-9]{{0,{max_size - 2}}}[a-z0-9])?\Z", fullmatch=True)


def subdomain() -> st.SearchStrategy[str]:
    """A DNS subdomain: what names a Secret or a ConfigMap."""
    return st.from_regex(r"\A[a-z0-9](?:[-a-z0-9]{0,20}[a-z0-9])?(?:\.[a-z0-9]{1,10}){0,2}\Z")


# An envFrom prefix: printable ASCII but "=".
PREFIX = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="="))


def text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Any Unicode text (no lone surrogates: JSON cannot carry them)."""
    return st.text(min_size=min_size, max_size=max_size)


ENV_NAME = st.from_regex(r"\A[-._a-zA-Z][-._a-zA-Z0-9]{0,30}\Z").filter(
    lambda k: k not in RESERVED_ENV
)
# `release` is Heroku's release phase (spec.release), never a process type.
PROCESS_TYPE = st.one_of(
    st.sampled_from(["web", "worker", "clock", "scheduler", "urgent-worker"]),
    label(TYPE_MAX).filter(lambda t: t != "release"),
)


def env(max_entries: int, max_value: int) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(ENV_NAME, text(max_value), max_size=max_entries)


@st.composite
def process(draw: st.DrawFn, ptype: str, size: str | None, small: bool) -> Obj:
    """One process type whose quantity fits its size and singleton rules."""
    out: Obj = {"command": draw(text(40 if small else 300, min_size=1))}
    singleton = draw(st.none() | st.booleans())
    if singleton is not None:
        out["singleton"] = singleton
    is_singleton = singleton if singleton is not None else ptype in SINGLETONS
    cap = min(1 if is_singleton else MAX_QUANTITY, SIZES[size or "standard-1x"][0])
    if draw(st.booleans()) or is_singleton:
        out["quantity"] = draw(st.integers(0, min(cap, 2 if small else cap)))
    if size is not None:
        out["size"] = size
    if draw(st.booleans()):
        out["port"] = draw(st.integers(1, 65535))
    if draw(st.booleans()):
        out["critical"] = draw(st.booleans())
    if draw(st.booleans()):
        out["env"] = draw(env(3, 20 if small else 200))
    return out


def _sizes(tier: str) -> list[str]:
    return [s for s, (_, t) in SIZES.items() if t == tier]


@st.composite
def env_from(draw: st.DrawFn) -> Obj:
    source = draw(st.sampled_from(["secretRef", "configMapRef"]))
    out: Obj = {source: {"name": draw(subdomain())}}
    if draw(st.booleans()):
        out["prefix"] = draw(PREFIX)
    return out


@st.composite
def formation(draw: st.DrawFn, namespace: str = "default", small: bool = False) -> Obj:
    """A Formation the docs say is valid. `small`: few dynos, short strings (created for
    real, so the cluster stays light)."""
    max_types = 4 if small else 8
    types = draw(st.lists(PROCESS_TYPE, min_size=1, max_size=max_types, unique=True))
    name = draw(label(NAME_MAX - 1 - max(len(t) for t in types)))
    tier = draw(st.sampled_from(["eco", "basic", "pro", "pro", "pro"]))
    choices = _sizes(tier)
    processes = {}
    for ptype in types:
        size = (
            draw(st.sampled_from(choices))
            if tier != "pro"
            else draw(st.none() | st.sampled_from(choices))
        )
        processes[ptype] = draw(process(ptype, size, small))
    spec: Obj = {"image": draw(_image(small)), "processes": processes}
    if draw(st.booleans()):
        spec["env"] = draw(env(4, 20 if small else 300))
    if draw(st.booleans()):
        spec["envFrom"] = draw(st.lists(env_from(), max_size=3))
    if draw(st.booleans()):
        # Each named once: a name given twice is refused (a list keyed by name, as in a Pod).
        names = draw(st.lists(subdomain(), max_size=3, unique=True))
        spec["imagePullSecrets"] = [{"name": n} for n in names]
    if draw(st.booleans()):
        spec["spread"] = {"whenUnsatisfiable": draw(st.sampled_from(SPREAD))}
    if draw(st.booleans()):
        spec["security"] = draw(_security())
    return {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@st.composite
def _image(draw: st.DrawFn, small: bool) -> str:
    """An image reference a container runtime can pull (IMAGE_PATTERN): an optional registry
    and port, one to three path components, an optional tag and digest."""
    part = st.from_regex(
        r"\A[a-z0-9]{1,8}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,8}){0,2}\Z", fullmatch=True
    )
    host = st.from_regex(
        r"\A[a-zA-Z0-9]{1,10}(?:\.[a-z0-9](?:[-a-z0-9]{0,6}[a-z0-9])?)?(?::[0-9]{1,5})?\Z",
        fullmatch=True,
    )
    image = "/".join(draw(st.lists(part, min_size=1, max_size=2 if small else 3)))
    if draw(st.booleans()):
        image = f"{draw(host)}/{image}"
    if draw(st.booleans()):
        image += ":" + draw(st.from_regex(rf"\A{_TAG}\Z", fullmatch=True))
    if not small and draw(st.booleans()):
        image += "@sha256:" + draw(st.from_regex(r"\A[0-9a-f]{64}\Z", fullmatch=True))
    assert re.fullmatch(IMAGE_PATTERN, image), image
    return image


@st.composite
def _security(draw: st.DrawFn) -> Obj:
    out: Obj = {}
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if draw(st.booleans()):
            out[key] = draw(st.integers(0, MAX_ID))
    for key in ("runAsNonRoot", "readOnlyRootFilesystem"):
        if draw(st.booleans()):
            out[key] = draw(st.booleans())
    return out


# --- Invalid manifests: a valid one with exactly one defect ------------------------------------


@dataclass(frozen=True)
class Case:
    manifest: Obj
    kind: str  # what the defect is, for the figures
    path: Path | None = None  # the field a refusal must name; None: a valid manifest
    hints: tuple[str, ...] = field(default=())  # or these words, for the catalog's rules

    @property
    def valid(self) -> bool:
        return self.path is None and not self.hints


def leaves(obj: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every field of a manifest with its path (containers included), but metadata's."""
    out: list[tuple[Path, Any]] = [(path, obj)] if path else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if path == () and k in ("apiVersion", "kind"):
                continue
            if path == () and k == "metadata":
                out.append((("metadata", "name"), v["name"]))
                continue
            out += leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += leaves(v, (*path, i))
    return out


def at(obj: Any, path: Path) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def put(manifest: Obj, path: Path, value: Any) -> Obj:
    out = copy.deepcopy(manifest)
    parent = at(out, path[:-1])
    parent[path[-1]] = value
    return out


def drop(manifest: Obj, path: Path) -> Obj:
    out = copy.deepcopy(manifest)
    del at(out, path[:-1])[path[-1]]
    return out


WRONG = {
    str: [123, True, 1.5, ["x"], {"a": "b"}],
    int: ["3", True, 1.5, [1], {"a": 1}],
    bool: ["true", 1, [True], {"a": True}],
    dict: ["x", 7, ["x"], True],
    list: ["x", 7, {"a": "b"}, True],
}


@st.composite
def wrong_type(draw: st.DrawFn, manifest: Obj) -> Case:
    path, value = draw(st.sampled_from(leaves(manifest)))
    kind = bool if isinstance(value, bool) else type(value)
    return Case(put(manifest, path, draw(st.sampled_from(WRONG[kind]))), "wrong type", path)


def _types(manifest: Obj) -> list[str]:
    return list(manifest["spec"]["processes"])


@st.composite
def out_of_range(draw: st.DrawFn, manifest: Obj) -> Case:
    ptype = draw(st.sampled_from(_types(manifest)))
    p: Path = ("spec", "processes", ptype)
    choices: list[tuple[Path, Any]] = [
        ((*p, "quantity"), draw(st.sampled_from([-1, MAX_QUANTITY + 1, 2**31, 2**63 - 1]))),
        ((*p, "quantity"), draw(st.integers(max_value=-1))),
        ((*p, "port"), draw(st.sampled_from([0, -1, 65536, 10**6]))),
        ((*p, "command"), ""),
        ((*p, "command"), "x" * (MAX_COMMAND + 1)),
        (("spec", "image"), ""),
        (("spec", "image"), draw(text(20, min_size=1)).strip() + "x" * MAX_IMAGE),
        (("spec", "image"), " " + draw(text(20, min_size=1)).strip() + "x"),
        (("spec", "security", "runAsUser"), draw(st.sampled_from([-1, MAX_ID + 1]))),
        (("spec", "security", "fsGroup"), -1),
        (("spec", "spread", "whenUnsatisfiable"), draw(st.sampled_from(["Sometimes", "", "é"]))),
    ]
    path, value = draw(st.sampled_from(choices))
    if path[:2] == ("spec", "security") and "security" not in manifest["spec"]:
        manifest = {**manifest, "spec": {**manifest["spec"], "security": {}}}
    if path[:2] == ("spec", "spread") and "spread" not in manifest["spec"]:
        manifest = {**manifest, "spec": {**manifest["spec"], "spread": {}}}
    return Case(put(manifest, path, value), "out of range", path)


BAD_TYPE_NAMES = [
    "release",
    "Web",
    "a_b",
    "wéb",
    "-web",
    "web-",
    "1web",
    "w" * (TYPE_MAX + 1),
    "a.b",
    "🚀",
]
BAD_NAMES = ["Shop", "shop_1", "shöp", "1shop", "-shop", "shop.v1", "s" * 254, "🚀", ""]
BAD_ENV_NAMES = ["1BAD", "a b", "é", "a=b", *RESERVED_ENV]
BAD_OBJECT_NAMES = ["Secret", "my_secret", "sécret", "-s", "s-", "a..b", "🚀", "s" * 254]
BAD_PREFIXES = ["A=", "é_", "\t", "🚀", "\x7f"]
BAD_SIZES = ["standard_2x", "standard 1x", "ünicode", "-x", "x" * 64]
# References no runtime can pull: spaces, empty parts, an uppercase repository, a bare tag.
BAD_IMAGES = ["my image", "Shop:v1", "registry//shop", "shop:", "/shop", "shop@sha256:abc", "ü"]


@st.composite
def bad_name(draw: st.DrawFn, manifest: Obj) -> Case:
    """A bad Formation name, process type name, config var name or size."""
    kinds = [
        "formation",
        "type",
        "env",
        "type env",
        "size",
        "image",
        "too long",
        "secret",
        "prefix",
    ]
    which = draw(st.sampled_from(kinds))
    types = _types(manifest)
    if which == "formation":
        bad = draw(st.sampled_from(BAD_NAMES) | text(20, min_size=1).map(lambda s: s + "É"))
        return Case(put(manifest, ("metadata", "name"), bad), "bad name", ("metadata", "name"))
    if which == "type":
        bad = draw(st.sampled_from(BAD_TYPE_NAMES) | text(10, min_size=1).map(lambda s: s + "_"))
        processes = dict(manifest["spec"]["processes"])
        processes[bad] = processes.pop(types[0])
        path: Path = ("spec", "processes")
        return Case(put(manifest, path, processes), "bad process type name", path)
    if which in ("env", "type env"):
        where: Path = ("spec", "env") if which == "env" else ("spec", "processes", types[0], "env")
        bad = draw(st.sampled_from(BAD_ENV_NAMES))
        current = dict(at(manifest, where) if _has(manifest, where) else {})
        return Case(put(manifest, where, {**current, bad: "x"}), "bad config var name", where)
    if which == "size":
        path = ("spec", "processes", types[0], "size")
        return Case(put(manifest, path, draw(st.sampled_from(BAD_SIZES))), "bad size", path)
    if which == "image":
        path = ("spec", "image")
        return Case(put(manifest, path, draw(st.sampled_from(BAD_IMAGES))), "bad image", path)
    if which in ("secret", "prefix"):
        source = draw(st.sampled_from(["secretRef", "configMapRef"]))
        entry: Obj = {source: {"name": "ok"}}
        if which == "secret":
            entry[source]["name"] = draw(st.sampled_from(BAD_OBJECT_NAMES))
            path = ("spec", "envFrom", 0, source, "name")
        else:
            entry["prefix"] = draw(st.sampled_from(BAD_PREFIXES))
            path = ("spec", "envFrom", 0, "prefix")
        return Case(put(manifest, ("spec", "envFrom"), [entry]), f"bad {which}", path)
    # A name and a type that together make a child name longer than 63 characters.
    name = manifest["metadata"]["name"]
    long_name = (name + "n" * NAME_MAX)[: max(len(name), NAME_MAX - TYPE_MAX)]
    out = put(manifest, ("metadata", "name"), long_name)
    out = put(out, ("spec", "processes"), {"t" * TYPE_MAX: {"command": "x"}})
    return Case(out, "child name too long", ("spec", "processes"))


def _has(manifest: Obj, path: Path) -> bool:
    try:
        at(manifest, path)
    except (KeyError, IndexError):
        return False
    return True


@st.composite
def missing(draw: st.DrawFn, manifest: Obj) -> Case:
    types = _types(manifest)
    choices: list[Path] = [
        ("spec",),
        ("spec", "image"),
        ("spec", "processes"),
        ("spec", "processes", draw(st.sampled_from(types)), "command"),
    ]
    path = draw(st.sampled_from(choices))
    return Case(drop(manifest, path), "missing field", path)


@st.composite
def too_many(draw: st.DrawFn, manifest: Obj) -> Case:
    which = draw(st.sampled_from(["types", "none", "env", "envFrom", "pull", "both sources"]))
    spec: Path = ("spec",)
    if which == "types":
        n = draw(st.integers(MAX_TYPES + 1, 1000))
        processes = {f"p{i}": {"command": "x"} for i in range(n)}
        return Case(
            put(manifest, (*spec, "processes"), processes), "too many", (*spec, "processes")
        )
    if which == "none":
        return Case(put(manifest, (*spec, "processes"), {}), "too few", (*spec, "processes"))
    if which == "env":
        big = {f"V{i}": "x" for i in range(MAX_ENV + 1)}
        return Case(put(manifest, (*spec, "env"), big), "too many", (*spec, "env"))
    if which == "both sources":
        both = [{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]
        return Case(put(manifest, (*spec, "envFrom"), both), "two sources", (*spec, "envFrom", 0))
    key = "envFrom" if which == "envFrom" else "imagePullSecrets"
    names = [f"s{i}" for i in range(MAX_LIST + 1)]  # distinct: only the count is wrong
    items = [{"secretRef": {"name": n}} if key == "envFrom" else {"name": n} for n in names]
    return Case(put(manifest, (*spec, key), items), "too many", (*spec, key))


@st.composite
def unknown_field(draw: st.DrawFn, manifest: Obj) -> Case:
    objects = [
        p
        for p, v in leaves(manifest)
        if isinstance(v, dict) and p != ("spec", "processes") and p[-1] != "env"
    ]
    where = draw(st.sampled_from([("spec",), *objects]))
    key = draw(st.sampled_from(["replicas", "Quantity", "commands", "x-extra", "spec"]))
    target = at(manifest, where)
    if key in target:
        key = key + "Unknown"
    return Case(put(manifest, (*where, key), 1), "unknown field", (*where, key))


@st.composite
def catalog_rule(draw: st.DrawFn, manifest: Obj) -> Case:
    """Quantities beyond a size's limit, unknown sizes, mixed tiers, singletons above 1."""
    ptype = draw(st.sampled_from(_types(manifest)))
    p: Path = ("spec", "processes", ptype)
    which = draw(st.sampled_from(["unknown", "eco", "performance", "singleton", "mixed"]))
    if which == "unknown":
        size = draw(st.sampled_from(["huge-9x", "standard-3x", "performance-s"]))
        out = put(manifest, (*p, "size"), size)
        return Case(out, "unknown size", hints=(f"No such size as {size}", f"type {ptype})"))
    if which == "eco":
        out = put(put(manifest, (*p, "size"), "eco"), (*p, "quantity"), 2)
        out = put(out, (*p, "singleton"), False)
        out = _one_tier(out, "eco", ptype)
        return Case(out, "size limit", hints=("Eco", f"{ptype}=2"))
    if which == "performance":
        out = put(put(manifest, (*p, "size"), "performance-l"), (*p, "quantity"), 11)
        out = put(out, (*p, "singleton"), False)
        return Case(
            _one_tier(out, "pro", ptype), "size limit", hints=("Performance-L", f"{ptype}=11")
        )
    if which == "singleton":
        # On a size that runs 2 dynos (the others on sizes it mixes with): on eco or basic the
        # catalog would refuse it too, a second defect, and the webhook, which runs before the
        # CRD's CEL rules, may name that one first.
        out = put(_one_tier(manifest, "pro", ptype), (*p, "size"), "standard-1x")
        out = put(put(out, (*p, "quantity"), 2), (*p, "singleton"), True)
        return Case(out, "singleton above 1", (*p,))
    out = _one_tier(manifest, "pro", ptype)
    others = [t for t in _types(out) if t != ptype]
    if not others:  # a second type, named unlike the first (a lone "z" was overwritten)
        other = "z" if ptype != "z" else "y"
        out = put(out, ("spec", "processes", other), {"command": "x"})
        others = [other]
    out = put(out, (*p, "size"), "basic")
    out = put(out, (*p, "quantity"), 1)
    out = put(out, ("spec", "processes", others[0], "size"), "standard-1x")
    return Case(out, "mixed tiers", hints=("Cannot use the following dyno types", "Basic"))


def _one_tier(manifest: Obj, tier: str, keep: str) -> Obj:
    """Every other type on a size of `tier` with a quantity it allows, so the one defect is
    the one the case is about."""
    size = "eco" if tier == "eco" else "standard-1x"
    out = manifest
    for t in _types(manifest):
        if t != keep:
            out = put(out, ("spec", "processes", t, "size"), size)
            out = put(out, ("spec", "processes", t, "quantity"), 0)
    return out


MUTATIONS = {
    "wrong type": wrong_type,
    "out of range": out_of_range,
    "bad name": bad_name,
    "missing field": missing,
    "too many or too few": too_many,
    "unknown field": unknown_field,
    "size catalog": catalog_rule,
}
# Twice as many valid manifests as of any one kind of defect.
SHARES = {"valid": 2, **dict.fromkeys(MUTATIONS, 1)}


def case(kind: str, namespace: str = "default") -> st.SearchStrategy[Case]:
    """A valid manifest, or a valid one with one defect of `kind` (a key of MUTATIONS)."""
    if kind == "valid":
        return formation(namespace).map(lambda m: Case(m, "valid"))
    return formation(namespace).flatmap(MUTATIONS[kind])


# --- Does a refusal name the field? ------------------------------------------------------------


def _flat(s: str) -> str:
    return re.sub(r"\[([^\][\s]*)\]", r".\1", s)


def renderings(path: Path) -> list[str]:
    """The ways the API server, the admission policy and the webhook write a field's path."""
    dotted = ".".join(str(p) for p in path)
    out = [dotted]
    if path and path[0] == "spec" and len(path) > 1:
        out.append(".".join(str(p) for p in path[1:]))  # the webhook: "spec is invalid at ..."
    if path == ("metadata", "name"):
        out.append("name must be")  # the CEL rule on the root: "a Formation's name must be..."
        out.append("ObjectMeta.name")  # the decoder: "cannot unmarshal ... ObjectMeta.name"
    return out


def names_the_field(message: str, c: Case) -> bool:
    flat = _flat(message)
    if c.path is not None and any(_flat(r) in flat for r in renderings(c.path)):
        return True
    return bool(c.hints) and all(h in message for h in c.hints)
