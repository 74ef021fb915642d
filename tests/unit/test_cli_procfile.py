"""`dyno formation import`: Procfile and app.json to a Formation manifest, bad lines named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynoform.api.v1alpha1 import Formation
from dynoform.cli.errors import CliError
from dynoform.cli.procfile import build, parse_procfile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PROCFILE = """\
# The shop's processes
web: bundle exec puma -p $PORT

worker:bundle exec sidekiq -q default -q mailers
  clock:   bundle exec clockwork clock.rb
release: bundle exec rake db:migrate
"""


def test_blank_lines_and_comments_are_skipped_and_types_keep_file_order() -> None:
    types, _ = parse_procfile(PROCFILE)
    assert types == {
        "web": "bundle exec puma -p $PORT",
        "worker": "bundle exec sidekiq -q default -q mailers",
        "clock": "bundle exec clockwork clock.rb",
    }


def test_a_command_keeps_its_own_colons() -> None:
    types, _ = parse_procfile("web: gunicorn -b 0.0.0.0:$PORT app:wsgi\n")
    assert types == {"web": "gunicorn -b 0.0.0.0:$PORT app:wsgi"}


def test_release_is_the_release_phase_not_a_process_type() -> None:
    types, release = parse_procfile(PROCFILE)
    assert "release" not in types
    assert release == "bundle exec rake db:migrate"


def test_release_becomes_the_release_command_of_the_manifest() -> None:
    imported = build("shop", "registry.example/shop:v1", PROCFILE)
    assert imported.manifest["spec"]["release"] == {"command": "bundle exec rake db:migrate"}
    assert "release" not in imported.manifest["spec"]["processes"]
    assert imported.notes == []
    assert Formation.model_validate(imported.manifest).spec.release is not None


def test_a_procfile_without_release_has_no_release_phase() -> None:
    imported = build("shop", "i", "web: a\n")
    assert "release" not in imported.manifest["spec"]


BAD = [
    ("web bundle exec puma\n", "Procfile:1: cannot parse 'web bundle exec puma'"),
    ("web: a\n\nworker:\n", "Procfile:3: cannot parse 'worker:'"),
    ("web: a\nweb: b\n", "Procfile:2: process type web is declared twice (first on line 1)."),
    ("Web_1: a\n", "Procfile:1: 'Web_1' is not a valid process type: lowercase letters, digits"),
    ("# only a comment\n\n", "Procfile declares no process types."),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[b[1][:40] for b in BAD])
def test_a_bad_line_is_an_error_with_its_line_number(text: str, message: str) -> None:
    with pytest.raises(CliError) as e:
        parse_procfile(text)
    assert str(e.value).startswith(message)


def test_an_invalid_type_gets_a_suggested_valid_name() -> None:
    with pytest.raises(CliError, match=r"\(try 'web-1'\)"):
        parse_procfile("Web_1: a\n")


def test_the_manifest_carries_app_json_quantities_and_lowercased_sizes() -> None:
    app_json = {"formation": {"web": {"quantity": 2, "size": "Standard-2X"}, "worker": {}}}
    imported = build("shop", "registry.example/shop:v1", PROCFILE, app_json, namespace="prod")
    assert imported.manifest == {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "Formation",
        "metadata": {"name": "shop", "namespace": "prod"},
        "spec": {
            "image": "registry.example/shop:v1",
            "processes": {
                "web": {
                    "command": "bundle exec puma -p $PORT",
                    "quantity": 2,
                    "size": "standard-2x",
                },
                "worker": {"command": "bundle exec sidekiq -q default -q mailers"},
                "clock": {"command": "bundle exec clockwork clock.rb"},
            },
            "release": {"command": "bundle exec rake db:migrate"},
        },
    }
    Formation.model_validate(imported.manifest)  # the API's own model accepts it


APP_JSON_ERRORS = [
    ({"formation": {"api": {"quantity": 1}}}, "app.json: formation names api, which the Procfile"),
    ({"formation": {"web": {"quantity": "2"}}}, "app.json: formation.web.quantity must be a whole"),
    ({"formation": {"web": {"quantity": -1}}}, "invalid at spec.processes.web.quantity"),
    ({"formation": {"clock": {"quantity": 2}}}, "clock is a singleton process type"),
    ({"formation": ["web"]}, "app.json: `formation` must be an object"),
]  # fmt: skip


@pytest.mark.parametrize(("app_json", "message"), APP_JSON_ERRORS)
def test_app_json_mistakes_are_errors(app_json: dict[str, object], message: str) -> None:
    with pytest.raises(CliError, match=message.replace(".", r"\.")):
        build("shop", "img", PROCFILE, app_json)


def test_a_size_the_catalog_does_not_build_in_is_a_note_not_an_error() -> None:
    imported = build("shop", "img", "web: a\n", {"formation": {"web": {"size": "gpu-1"}}})
    assert imported.notes == [
        "web: gpu-1 is not a built-in size; the cluster needs a DynoSize of that name."
    ]


@pytest.mark.parametrize("name", ["Shop", "shop_1", "-shop"])
def test_the_formation_name_must_be_a_dns_label(name: str) -> None:
    with pytest.raises(CliError, match=r"must be a DNS label"):
        build(name, "img", "web: a\n")


def test_the_example_procfile_and_app_json_import_cleanly() -> None:
    import json

    imported = build(
        "shop",
        "registry.example.com/shop:v1",
        (EXAMPLES / "Procfile").read_text(),
        json.loads((EXAMPLES / "app.json").read_text()),
    )
    spec = Formation.model_validate(imported.manifest).spec
    assert sorted(spec.processes) == ["clock", "web", "worker"]
    assert spec.release is not None
    assert spec.release.command == "bundle exec rake db:migrate"
    assert imported.notes == []
