"""The Formation model: Heroku's defaults and the derived figures."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dynoform.api.sizes import Catalog, check
from dynoform.api.v1alpha1 import Formation, is_valid_process_type
from dynoform.core.status import scale_message, summary
from tests.factories import formation_body, make_formation


def test_web_starts_one_dyno_and_other_types_none_when_quantity_is_omitted() -> None:
    f = make_formation(processes={"web": {"command": "a"}, "worker": {"command": "b"}})
    assert f.spec.quantity_of("web") == 1
    assert f.spec.quantity_of("worker") == 0


def test_clock_and_scheduler_are_singletons_unless_said_otherwise() -> None:
    f = make_formation(
        processes={
            "clock": {"command": "c"},
            "scheduler": {"command": "s"},
            "worker": {"command": "w"},
            "cron": {"command": "x", "singleton": True},
        }
    )
    assert [f.spec.is_singleton(t) for t in ("clock", "scheduler", "worker", "cron")] == [
        True,
        True,
        False,
        True,
    ]
    g = make_formation(processes={"clock": {"command": "c", "singleton": False}})
    assert not g.spec.is_singleton("clock")


def test_web_listens_on_5000_by_default_and_other_types_only_when_given_a_port() -> None:
    f = make_formation(
        processes={
            "web": {"command": "a"},
            "worker": {"command": "b"},
            "api": {"command": "c", "port": 8080},
        }
    )
    assert (f.spec.port_of("web"), f.spec.port_of("worker"), f.spec.port_of("api")) == (
        5000,
        None,
        8080,
    )


def test_the_summary_is_herokus_formation_form_sorted_by_type() -> None:
    f = make_formation(
        processes={
            "worker": {"command": "b", "quantity": 2},
            "web": {"command": "a", "quantity": 3, "size": "standard-2x"},
        }
    )
    assert summary(f) == "web=3:standard-2x worker=2:standard-1x"
    assert scale_message(f) == "Scale to web=3, worker=2"


def test_unknown_fields_and_negative_quantities_are_refused() -> None:
    with pytest.raises(ValidationError):
        Formation.model_validate(formation_body(replicas=3))
    with pytest.raises(ValidationError):
        make_formation(processes={"web": {"command": "a", "quantity": -1}})


@pytest.mark.parametrize(
    ("name", "ok"),
    [("web", True), ("urgent-worker", True), ("Web", False), ("1web", False), ("a" * 31, False)],
)
def test_process_type_names_are_short_dns_labels(name: str, ok: bool) -> None:
    assert is_valid_process_type(name) is ok


def test_expected_kopf_errors_are_logged_at_their_level_and_real_errors_stay_errors() -> None:
    import logging

    from dynoform.operator.main import ExpectedAreNotErrors

    def level_of(msg: str) -> str:
        record = logging.LogRecord("kopf", logging.ERROR, __file__, 1, msg, None, None)
        ExpectedAreNotErrors().filter(record)
        return record.levelname

    throttled = "APITooManyRequestsError('storage is (re)initializing', {'code': 429})"
    url = "GET https://127.0.0.1:6443/apis/dyno.dev/v1alpha1/formations?watch=true"
    assert level_of("Webhook 'formations' failed permanently: No such size as x.") == "INFO"
    assert level_of(f"Request attempt #1/9 failed; will retry: {url} -> {throttled}") == "WARNING"
    # The last attempt failing, or a failure that is not a throttle, is an error.
    assert level_of(f"Request attempt #9/9 failed; escalating: {url} -> {throttled}") == "ERROR"
    assert level_of(f"Request attempt #1/9 failed; will retry: {url} -> APIServerError()") == (
        "ERROR"
    )
    assert level_of("Handler 'formation_event' failed with an exception.") == "ERROR"


def test_an_image_pull_secret_named_twice_is_refused_as_the_api_server_refuses_it() -> None:
    with pytest.raises(ValidationError, match="an image pull secret is named twice: regcred"):
        make_formation(imagePullSecrets=[{"name": "regcred"}, {"name": "regcred"}])


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "registry.example/shop:v2",
        "localhost:5000/team/app:1.0",
        "ghcr.io/org/my_app__x-y",
        "shop@sha256:" + "a" * 64,
    ],
)
def test_an_image_a_runtime_can_pull_is_accepted(image: str) -> None:
    assert make_formation(image=image).spec.image == image


@pytest.mark.parametrize(
    "image", ["my image", "Shop:v1", "registry//shop", "shop:", "/shop", "shop:v1@sha256:abc"]
)
def test_an_image_that_can_never_be_pulled_is_refused_with_its_reference(image: str) -> None:
    with pytest.raises(ValidationError, match="is not an image reference a container runtime"):
        make_formation(image=image)


def test_a_size_in_herokus_casing_is_the_catalogs_name() -> None:
    f = make_formation(processes={"web": {"command": "a", "size": "Standard-2X"}})
    assert f.spec.processes["web"].size == "standard-2x"


def test_a_size_that_is_no_name_says_so() -> None:
    with pytest.raises(ValidationError, match="is not a dyno size name"):
        make_formation(processes={"web": {"command": "a", "size": "standard 2x"}})


def test_a_type_that_names_no_size_takes_the_apps_one_size_tier() -> None:
    # An imported Procfile on an app.json of basic dynos: every type basic, a valid formation.
    f = make_formation(
        processes={"web": {"command": "a", "size": "basic"}, "worker": {"command": "b"}}
    )
    assert [f.spec.size_of(t) for t in ("web", "worker")] == ["basic", "basic"]
    check(f.spec, Catalog())


def test_a_type_that_names_no_size_is_standard_1x_in_a_professional_app() -> None:
    f = make_formation(
        processes={"web": {"command": "a", "size": "performance-m"}, "worker": {"command": "b"}}
    )
    assert f.spec.size_of("worker") == "standard-1x"
    assert make_formation(processes={"web": {"command": "a"}}).spec.size_of("web") == "standard-1x"
