"""Formation updates as Heroku clients send them, and the app names they address
(dynoform.server.updates, dynoform.server.apps, dynoform.server.context)."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from dynoform.api.edit import ScaleChange
from dynoform.server import apps
from dynoform.server.context import token_of
from dynoform.server.errors import HerokuError, KubeError, from_kube
from dynoform.server.schemas import FormationBatch, FormationUpdate
from dynoform.server.updates import change

QUANTITIES = [
    (2, ScaleChange("web", "=", 2)),
    ("2", ScaleChange("web", "=", 2)),
    ("+1", ScaleChange("web", "+", 1)),
    ("-1", ScaleChange("web", "-", 1)),
    (" 3 ", ScaleChange("web", "=", 3)),
    (0, ScaleChange("web", "=", 0)),
    (None, ScaleChange("web", "+", 0)),  # a size alone keeps the quantity
]


@pytest.mark.parametrize(("quantity", "expected"), QUANTITIES)
def test_a_quantity_is_a_number_or_herokus_string(quantity, expected) -> None:
    assert change("web", FormationUpdate(quantity=quantity)) == expected


@pytest.mark.parametrize("quantity", ["two", "1.5", "++1", "", "+", "1e3", -1, "9999999999"])
def test_a_malformed_quantity_is_invalid_params(quantity) -> None:
    with pytest.raises(HerokuError) as err:
        change("web", FormationUpdate(quantity=quantity))
    assert (err.value.status, err.value.error_id) == (422, "invalid_params")


@pytest.mark.parametrize("quantity", [True, 1.5, [1], {"n": 1}])
def test_a_quantity_of_another_json_type_is_refused_by_the_schema(quantity) -> None:
    with pytest.raises(ValidationError):
        FormationUpdate.model_validate({"quantity": quantity})


def test_a_size_is_a_name_in_any_case() -> None:
    assert change("web", FormationUpdate(size="Performance-L")).size == "performance-l"
    with pytest.raises(HerokuError):
        change("web", FormationUpdate(size=" "))


def test_a_batch_holds_at_least_one_update_and_ignores_unknown_fields() -> None:
    batch = FormationBatch.model_validate({"updates": [{"type": "web", "quantity": "1", "x": 1}]})
    assert batch.updates[0].type == "web"
    with pytest.raises(ValidationError):
        FormationBatch.model_validate({"updates": []})


APP_NAMES = [
    ("shop", apps.AppRef("home", "shop")),
    ("shop.team-a", apps.AppRef("team-a", "shop")),
    (
        "0b9a4f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        apps.AppRef("home", uid="0b9a4f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"),
    ),
]


@pytest.mark.parametrize(("identity", "expected"), APP_NAMES)
def test_an_app_is_a_formation_of_the_default_or_the_named_namespace(identity, expected) -> None:
    assert apps.parse(identity, "home") == expected


@pytest.mark.parametrize(
    "identity", ["Shop", "shop..x", "../etc", "shop.team_a", "9shop", "a" * 64]
)
def test_a_name_no_formation_can_have_is_not_found_before_any_request(identity) -> None:
    with pytest.raises(HerokuError) as err:
        apps.parse(identity, "home")
    assert err.value.status == 404


def test_an_app_shows_its_namespace_only_outside_the_default_one() -> None:
    assert apps.AppRef("home", "shop").display("home") == "shop"
    assert apps.AppRef("team-a", "shop").display("home") == "shop.team-a"


def _request(authorization: str | None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "headers": headers})


def test_the_api_key_comes_as_a_bearer_token_or_a_basic_password() -> None:
    assert token_of(_request("Bearer abc.def")) == "abc.def"
    basic = base64.b64encode(b":abc.def").decode()
    assert token_of(_request(f"Basic {basic}")) == "abc.def"


@pytest.mark.parametrize("header", [None, "Bearer ", "Token abc", "Basic !!!", "Bearer a b"])
def test_no_usable_api_key_is_herokus_401(header) -> None:
    with pytest.raises(HerokuError) as err:
        token_of(_request(header))
    assert (err.value.status, err.value.error_id) == (401, "unauthorized")


KUBE_ANSWERS = [
    (401, 401, "unauthorized", "Invalid credentials provided."),
    (403, 403, "forbidden", "You do not have access to the app shop."),
    (404, 404, "not_found", "Couldn't find that app."),
    (409, 409, "conflict", "the object has been modified"),
    (422, 422, "invalid_params", "the object has been modified"),
    (429, 429, "rate_limit", "Your account reached the API rate limit"),
    (500, 503, "service_unavailable", "The Kubernetes API answered 500"),
]


@pytest.mark.parametrize(("kube_status", "status", "error_id", "message"), KUBE_ANSWERS)
def test_kubernetes_answers_become_herokus(kube_status, status, error_id, message) -> None:
    err = from_kube(KubeError(kube_status, "Reason", "the object has been modified"), "shop")
    assert (err.status, err.error_id) == (status, error_id)
    assert err.message.startswith(message)
