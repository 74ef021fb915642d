"""`dyno run` and `dyno logs`, the parts that need no kubelet: manifests, names, lines.

The end-to-end tests (tests/e2e/test_real_containers.py) attach to runs and read logs on the
local cluster's real node; these pin down everything up to that point.
"""

from __future__ import annotations

from typing import Any

import pytest

from dynoform.api.dyno import EXEC
from dynoform.api.dynos import Dyno
from dynoform.api.sizes import BUILTIN, Catalog
from dynoform.cli import logs, oneoff
from dynoform.cli.errors import CliError, UsageError
from dynoform.cli.grammar import DynoRef
from dynoform.core.builders.deployment import build_deployment
from tests.factories import make_formation

CATALOG = Catalog()
SHOP = make_formation(
    env={"RAILS_ENV": "production"},
    envFrom=[{"secretRef": {"name": "shop-secrets"}}],
    processes={
        "web": {"command": "bundle exec puma -p $PORT", "quantity": 2, "env": {"WEB_ONLY": "1"}},
        "worker": {"command": "bundle exec sidekiq", "quantity": 1},
    },
    security={"runAsUser": 1000},
)
REQUEST = oneoff.RunRequest("rake db:migrate", "standard-2x", {"VERBOSE": "1"}, detached=True)


def env_of(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_spec["containers"][0]["env"]}


def test_a_detached_run_is_a_job_that_never_retries_and_expires() -> None:
    job = oneoff.job(SHOP, REQUEST, 7, CATALOG)
    assert job["kind"] == "Job"
    assert job["metadata"]["name"] == "shop-run-7"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == oneoff.RUN_TTL_SECONDS
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_a_one_off_is_labelled_as_the_apps_but_outside_the_formation() -> None:
    job = oneoff.job(SHOP, REQUEST, 7, CATALOG)
    labels = job["metadata"]["labels"]
    assert labels == job["spec"]["template"]["metadata"]["labels"]
    assert labels["dyno.dev/formation"] == "shop"
    assert labels["dyno.dev/one-off"] == "run.7"
    assert labels["dyno.dev/size"] == "standard-2x"
    # No process-type label: no Deployment, Service or PDB of the formation selects it; and not
    # managed by the operator, which therefore never prunes it.
    assert "dyno.dev/process-type" not in labels
    assert labels["app.kubernetes.io/managed-by"] == "dyno-cli"


def test_a_one_off_is_deleted_with_its_app_but_not_controlled_by_it() -> None:
    owner = oneoff.job(SHOP, REQUEST, 1, CATALOG)["metadata"]["ownerReferences"]
    assert owner == [
        {"apiVersion": "dyno.dev/v1alpha1", "kind": "Formation", "name": "shop", "uid": "uid-1"}
    ]


def test_a_one_off_runs_the_apps_image_config_and_size_like_a_formation_dyno() -> None:
    pod = oneoff.job(SHOP, REQUEST, 7, CATALOG)["spec"]["template"]["spec"]
    web = build_deployment(SHOP, "web", BUILTIN["standard-2x"])["spec"]["template"]["spec"]
    container, web_container = pod["containers"][0], web["containers"][0]
    assert container["image"] == web_container["image"]
    assert container["command"] == ["/bin/sh", "-c", EXEC, "rake db:migrate"]
    assert container["envFrom"] == web_container["envFrom"]
    assert container["resources"] == web_container["resources"]
    assert container["securityContext"] == web_container["securityContext"]
    assert pod["securityContext"] == web["securityContext"]
    assert env_of(pod) == {
        "RAILS_ENV": "production",  # app-wide config vars, not another type's
        "VERBOSE": "1",
        "DYNO": "run.7",  # Heroku's one-off name, not the pod's
        "DYNO_TYPE": "run",
        "DYNO_SIZE": "standard-2x",
    }
    assert "topologySpreadConstraints" not in pod
    assert "ports" not in container
    assert "readinessProbe" not in container


def test_an_attached_run_is_a_pod_with_stdin_and_a_tty_to_attach_to() -> None:
    request = oneoff.RunRequest("bash", "standard-1x", detached=False, tty=True)
    pod = oneoff.pod(SHOP, request, 2, CATALOG)
    assert (pod["kind"], pod["metadata"]["name"]) == ("Pod", "shop-run-2")
    assert pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    assert (container["stdin"], container["stdinOnce"], container["tty"]) == (True, True, True)
    no_tty = oneoff.pod(SHOP, oneoff.RunRequest("bash", "standard-1x", tty=False), 2, CATALOG)
    assert no_tty["spec"]["containers"][0]["tty"] is False


def test_an_unknown_run_size_lists_the_available_sizes() -> None:
    with pytest.raises(UsageError, match=r"No such size as huge\. Available dyno sizes are eco, "):
        oneoff.job(SHOP, oneoff.RunRequest("bash", "huge", detached=True), 1, CATALOG)


COMMANDS = [
    (["bash"], "bash"),
    (["echo $HOME && ls"], "echo $HOME && ls"),  # one argument: a shell string, as Heroku's
    (["echo", "a b", "$X"], "echo 'a b' '$X'"),  # several: each quoted
    (["worker", "--verbose"], "bundle exec sidekiq --verbose"),  # a process type's command
    (["web"], "bundle exec puma -p $PORT"),
]


@pytest.mark.parametrize(("argv", "command"), COMMANDS)
def test_the_run_command_is_built_as_herokus(argv: list[str], command: str) -> None:
    assert oneoff.build_command(argv, SHOP) == command


def test_run_without_a_command_prints_herokus_usage() -> None:
    with pytest.raises(UsageError, match=r"Usage: dyno run COMMAND\n\nExample: dyno run bash"):
        oneoff.build_command([], SHOP)


def test_run_numbers_continue_after_the_highest_in_use() -> None:
    assert oneoff.next_number([]) == 1
    assert oneoff.next_number(["run.2", "run.10", "", "web.1"]) == 11


def test_attach_goes_through_kubectl_with_the_users_cluster_flags() -> None:
    argv = oneoff.attach_argv("kubectl", "shop-run-2", "prod", True, ["--context", "c"])
    assert argv == [
        "kubectl", "attach", "-it", "--quiet", "shop-run-2", "-c", "run", "-n", "prod",
        "--context", "c",
    ]  # fmt: skip
    assert oneoff.attach_argv("k", "p", "n", False, [])[2] == "-i"


def pod_exit(code: int | None) -> dict[str, Any]:
    state = {"terminated": {"exitCode": code}} if code is not None else {"running": {}}
    return {"status": {"containerStatuses": [{"state": state}]}}


def test_the_exit_code_is_herokus_zero_unless_asked_for() -> None:
    assert oneoff.exit_code(pod_exit(3)) == 3
    assert oneoff.exit_code(pod_exit(None)) is None
    assert oneoff.outcome(3, 0, passthrough=False) == 0
    assert oneoff.outcome(3, 0, passthrough=True) == 3
    assert oneoff.outcome(0, 0, passthrough=True) == 0


def test_a_failed_attach_with_no_exit_code_is_an_error() -> None:
    with pytest.raises(CliError, match=r"Could not attach to the run \(kubectl attach exited 1\)"):
        oneoff.outcome(None, 1, passthrough=False)


def dyno(name: str, pod: str) -> Dyno:
    from datetime import UTC, datetime

    ptype, _, number = name.partition(".")
    return Dyno(name, ptype, int(number), "up", datetime(2026, 1, 1, tzinfo=UTC), "c", "s", pod)


DYNOS = [dyno("web.1", "p1"), dyno("web.2", "p2"), dyno("worker.1", "p3")]


def test_logs_select_all_dynos_a_type_or_one() -> None:
    assert logs.select(DYNOS, None, "shop") == DYNOS
    assert [d.pod for d in logs.select(DYNOS, DynoRef("web"), "shop")] == ["p1", "p2"]
    assert [d.pod for d in logs.select(DYNOS, DynoRef("web", 2), "shop")] == ["p2"]
    with pytest.raises(CliError, match=r"^No web\.3 dynos on ⬢ shop$"):
        logs.select(DYNOS, DynoRef("web", 3), "shop")


def test_a_log_line_is_printed_in_herokus_format() -> None:
    line = logs.parse("web.1", "2026-11-21T19:00:00.123456789Z Listening on 0.0.0.0:5000\n")
    assert str(line) == "2026-11-21T19:00:00.123456+00:00 app[web.1]: Listening on 0.0.0.0:5000"
    assert logs.heroku_time("2026-11-21T19:00:00Z") == "2026-11-21T19:00:00.000000+00:00"


def test_logs_merge_every_dynos_lines_in_time_order_and_keep_the_last_n() -> None:
    streams = [
        ("web.1", ["2026-11-21T19:00:00.5Z a", "2026-11-21T19:00:02Z c"]),
        ("web.2", ["2026-11-21T19:00:00.123Z b0", "2026-11-21T19:00:01Z b"]),
    ]
    assert [str(x) for x in logs.merged(streams, 3)] == [
        "2026-11-21T19:00:00.500000+00:00 app[web.1]: a",
        "2026-11-21T19:00:01.000000+00:00 app[web.2]: b",
        "2026-11-21T19:00:02.000000+00:00 app[web.1]: c",
    ]
