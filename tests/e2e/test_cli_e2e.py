"""The installed `dyno` as a user runs it: a Procfile imported and applied, scaled, listed with
its zones, and the same binary as a kubectl plugin (`kubectl dyno`)."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from localcluster.operator import ROOT

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dyno_bin() -> Path:
    path = BIN / "dyno"
    if not path.exists():
        pytest.fail("`dyno` is not installed: pip install -e '.[dev]'", pytrace=False)
    return path


def sh(installed, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = installed.env()
    env["PATH"] = os.pathsep.join([str(BIN), env["PATH"]])  # kubectl finds kubectl-dyno here
    env.pop("DYNO_APP", None)
    return subprocess.run(
        argv, input=stdin, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_import_apply_scale_and_list_as_a_user_would(
    operator, installed, namespace: str, dyno_bin: Path
) -> None:
    dyno = [str(dyno_bin), "-n", namespace]
    manifest = sh(
        installed,
        [
            *dyno,
            "formation",
            "import",
            str(ROOT / "examples" / "Procfile"),
            "--app-json",
            str(ROOT / "examples" / "app.json"),
            "--image",
            "registry.example.com/shop:v1",
            "--name",
            "shop",
        ],
    )
    assert manifest.returncode == 0, manifest.stderr
    assert manifest.stderr == ""
    # The Procfile's release line is the release phase: it runs before any dyno starts.
    assert "  release:\n    command: bundle exec rake db:migrate\n" in manifest.stdout
    installed.kubectl("apply", "-f", "-", input=manifest.stdout)
    installed.kubectl(
        "wait", "--for=condition=Ready", "--timeout=60s", "-n", namespace, "formation/shop"
    )
    released = installed.kubectl(
        "get", "-n", namespace, "formation/shop", "-o", "jsonpath={.status.releasedImage}"
    )
    assert released.stdout == "registry.example.com/shop:v1"

    shown = sh(installed, [*dyno, "ps:scale", "-a", "shop"])
    assert shown.stdout == "clock=1:standard-1x web=3:standard-2x worker=2:standard-1x\n"

    scaled = sh(installed, [*dyno, "ps:scale", "-a", "shop", "web+3", "worker=0"])
    assert scaled.returncode == 0, scaled.stderr
    assert scaled.stderr == (
        "Scaling dynos... done, now running web at 6:Standard-2X, worker at 0:Standard-1X\n"
    )
    installed.kubectl(
        "wait", "--for=condition=Ready", "--timeout=60s", "-n", namespace, "formation/shop"
    )

    ps = sh(installed, [*dyno, "-a", "shop", "ps", "web"])
    assert ps.returncode == 0, ps.stderr
    assert ps.stdout.startswith("=== web (Standard-2X): bundle exec puma -p $PORT (6)\n\n")
    zones = collections.Counter(re.findall(r"^web\.\d: up .* in (zone-[abc]) on ", ps.stdout, re.M))
    assert zones == {"zone-a": 2, "zone-b": 2, "zone-c": 2}  # the spread, as ps shows it


def test_kubectl_dyno_is_the_same_cli_as_a_kubectl_plugin(
    operator, installed, namespace: str, dyno_bin: Path
) -> None:
    installed.kubectl(
        "apply",
        "-f",
        "-",
        input=(
            "apiVersion: dyno.dev/v1alpha1\nkind: Formation\nmetadata: {name: shop, namespace: "
            f"{namespace}}}\nspec:\n  image: img\n  processes:\n    web: {{command: puma}}\n"
        ),
    )
    result = sh(installed, ["kubectl", "dyno", "ps:type", "-a", "shop", "-n", namespace])
    assert result.returncode == 0, result.stderr
    assert " web    Standard-1X   1     512Mi    250m/1" in result.stdout.splitlines()


def test_a_malformed_argument_exits_2_and_changes_nothing(
    operator, installed, namespace: str, dyno_bin: Path
) -> None:
    result = sh(installed, [str(dyno_bin), "-n", namespace, "-a", "shop", "ps:scale", "web=abc"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(' !    Cannot parse "web=abc"')
