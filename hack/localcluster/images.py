"""Container images without a registry: built here from Debian and PyPI packages, cached, and
imported into a real node's containerd.

Owns the images the local cluster runs for real, how each is built, and the cache:
- `pause`: the pod sandbox, upstream's `pause.c` (from the Go module cache of k8s.io/kubernetes)
  compiled statically with gcc, in an image FROM scratch;
- `base`: Debian bookworm with Python 3, a root filesystem made by mmdebstrap from Debian's
  packages and imported into podman: the stand-in for `python:3.11-slim` (no Docker Hub here);
- `operator`: `operator/Dockerfile`, the very file a user builds with Docker, built by podman
  with no network, its base image and `pip install` options given as build arguments and the
  wheels (downloaded on the host with pip) mounted at /wheels;
- `sample-app`: `examples/sample-app`, a Procfile app (web, worker, clock, release) on `base`.

Each image is saved as a docker-archive in `$DYNOFORM_CACHE/images/<name>-<key>.tar`, where the
key hashes every input (files, package lists, the base's key), so an archive is built once and a
changed input builds a new one. podman keeps its own storage under `$DYNOFORM_CACHE/podman`, with
a containers.conf this machine needs (runc, cgroupfs, rlimits it may set). `import_into` loads
archives into a node's containerd (namespace k8s.io, where the kubelet looks).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from localcluster.binaries import GO_MODULES, REPO_ROOT, cache_dir, pinned_version

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
# Files a container never reads: dropped from the base to keep the archives and imports small.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
OPERATOR_VERSION = "0.1.0"  # the chart's appVersion: its default tag


class ImageError(RuntimeError):
    """An image could not be built or imported."""


@dataclass(frozen=True)
class Image:
    name: str
    ref: str  # what pods name: localhost/... is never pulled from anywhere
    inputs: Callable[[], list[Path]]  # files whose content makes the key
    build: Callable[[Image, Path], None]  # build into podman and save the archive to the path
    depends: tuple[str, ...] = ()
    extra_key: str = ""


def podman_env() -> dict[str, str]:
    """podman with its storage and configuration in the cache, not the machine's."""
    root = cache_dir() / "podman"
    root.mkdir(parents=True, exist_ok=True)
    conf, storage = root / "containers.conf", root / "storage.conf"
    nofile = _hard_limit("RLIMIT_NOFILE")
    conf.write_text(
        "[containers]\n"
        # setrlimit above what this process has is refused without CAP_SYS_RESOURCE, and
        # podman's defaults (1048576) are above it; nproc: a value runc may always set.
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
        "[engine]\n"
        'runtime = "runc"\n'  # crun refuses cgroup v1 in hybrid mode
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )
    storage.write_text(
        '[storage]\ndriver = "overlay"\n'
        f'graphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n'
    )
    return {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}


def _hard_limit(name: str) -> int:
    import resource

    return min(resource.getrlimit(getattr(resource, name))[1], 1048576)


def run(
    argv: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run a build step; its output goes to stderr as it comes, and a failure raises with it."""
    print(f"images: {' '.join(str(a) for a in argv)[:200]}", file=sys.stderr)
    proc = subprocess.run(
        [str(a) for a in argv], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ImageError(
            f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def podman(*args: str | Path, cwd: Path | None = None) -> str:
    return run(["podman", *map(str, args)], env=podman_env(), cwd=cwd)


# --- the images ----------------------------------------------------------------------------


def pause_source() -> Path:
    """upstream build/pause/linux/pause.c of the pinned k8s.io/kubernetes, from the module cache
    (the binaries' build put the module there)."""
    version = pinned_version("kubernetes")
    modcache = run(["go", "env", "GOMODCACHE"]).strip()
    source = Path(modcache) / f"k8s.io/kubernetes@{version}" / "build/pause/linux/pause.c"
    if not source.is_file():
        run(
            ["go", "mod", "download", f"k8s.io/kubernetes@{version}"], cwd=GO_MODULES / "kubernetes"
        )
    return source


def build_pause(image: Image, archive: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        run(["gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=v3.10.1-dynoform",
             "-o", ctx / "pause", pause_source()])  # fmt: skip
        run(["strip", ctx / "pause"])
        (ctx / "Containerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        podman("build", "--network", "none", "-t", image.ref, ctx)
    save(image, archive)


def build_base(image: Image, archive: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        excludes = [f"--dpkgopt=path-exclude={glob}" for glob in DPKG_EXCLUDES]
        run(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
             *excludes, "--dpkgopt=path-include=/usr/share/doc/*/copyright",
             "--format=tar", SUITE, rootfs, MIRROR])  # fmt: skip
        podman("import", "--change", 'CMD ["python3"]', rootfs, image.ref)
    save(image, archive)


def build_operator(image: Image, archive: Path) -> None:
    wheels = operator_wheels()
    podman(
        "build", "--network", "none", "-v", f"{wheels}:/wheels:ro",
        "--build-arg", f"PYTHON_IMAGE={IMAGES['base'].ref}",
        "--build-arg", "PIP_INSTALL_OPTS=--no-index --find-links=/wheels",
        "-f", REPO_ROOT / "operator" / "Dockerfile", "-t", image.ref, REPO_ROOT,
    )  # fmt: skip
    save(image, archive)


def operator_wheels() -> Path:
    """The operator's dependencies as wheels (and setuptools, its build backend), downloaded
    on the host: pip in a build without network cannot, and the host trusts its own CAs."""
    key = _digest([REPO_ROOT / "pyproject.toml"])
    wheels = cache_dir() / "wheels" / key
    if not (wheels / ".complete").exists():
        shutil.rmtree(wheels, ignore_errors=True)
        run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
             "--dest", wheels, REPO_ROOT, "setuptools>=69"])  # fmt: skip
        (wheels / ".complete").touch()
    return wheels


def build_sample_app(image: Image, archive: Path) -> None:
    podman(
        "build", "--network", "none", "--build-arg", f"BASE_IMAGE={IMAGES['base'].ref}",
        "-t", image.ref, SAMPLE_APP,
    )  # fmt: skip
    save(image, archive)


def save(image: Image, archive: Path) -> None:
    # docker-archive keeps the full name (localhost/dynoform/...), which `ctr import` keeps too.
    podman("save", "--format", "docker-archive", "-o", archive, image.ref)


SAMPLE_APP = REPO_ROOT / "examples" / "sample-app"


def _files(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.is_file():
            found.append(root)
        else:
            found += [
                p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            ]
    return found


IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image("pause", "localhost/dynoform/pause:3.10.1", lambda: [pause_source()], build_pause),
        Image(
            "base", f"localhost/dynoform/debian-python:{SUITE}", lambda: [], build_base,
            extra_key=" ".join([SUITE, *BASE_PACKAGES, *DPKG_EXCLUDES]),
        ),
        Image(
            "operator", f"localhost/dynoform/operator:{OPERATOR_VERSION}",
            lambda: _files(
                REPO_ROOT / "operator", REPO_ROOT / "pyproject.toml", REPO_ROOT / "README.md",
                REPO_ROOT / ".dockerignore",
            ),
            build_operator, depends=("base",),
        ),
        Image("sample-app", "localhost/dynoform/sample-app:1", lambda: _files(SAMPLE_APP),
              build_sample_app, depends=("base",)),
    )
}  # fmt: skip


# --- the cache -----------------------------------------------------------------------------


def _digest(paths: Iterable[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(
            str(
                path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path.name
            ).encode()
        )
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def key(name: str) -> str:
    image = IMAGES[name]
    deps = " ".join(key(d) for d in image.depends)
    return _digest(image.inputs(), f"{image.ref} {image.extra_key} {deps}")


def archive_path(name: str) -> Path:
    return cache_dir() / "images" / f"{name}-{key(name)}.tar"


def ensure(names: Iterable[str]) -> dict[str, Path]:
    """The archives of `names` (and what they build on), building the missing ones first;
    concurrent callers are serialised by a lock so that each is built once."""
    wanted = list(dict.fromkeys(names))
    archives = {}
    lock_path = cache_dir() / "images.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in wanted:
            archives[name] = _ensure_one(name)
    return archives


def _ensure_one(name: str) -> Path:
    image = IMAGES[name]
    for dep in image.depends:
        _ensure_one(dep)
        _load_into_podman(dep)
    archive = archive_path(name)
    if archive.exists():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"images: building {name} ({image.ref})", file=sys.stderr)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    image.build(image, partial)
    partial.rename(archive)
    for stale in archive.parent.glob(f"{name}-*.tar"):
        if stale != archive:
            stale.unlink()
    print(
        f"images: built {name} in {time.monotonic() - started:.1f}s -> {archive}", file=sys.stderr
    )
    return archive


def _load_into_podman(name: str) -> None:
    """A dependency must be in podman's storage to build FROM it (it may be only archived)."""
    env = podman_env()
    present = (
        subprocess.run(
            ["podman", "image", "exists", IMAGES[name].ref], env=env, check=False
        ).returncode
        == 0
    )
    if not present:
        podman("load", "-i", archive_path(name))


def import_into(socket: Path, archives: Iterable[Path]) -> float:
    """Import archives into the containerd at `socket` (namespace k8s.io); return seconds."""
    started = time.monotonic()
    for archive in archives:
        run(["ctr", "--address", str(socket), "-n", "k8s.io", "images", "import", str(archive)])
    return time.monotonic() - started
