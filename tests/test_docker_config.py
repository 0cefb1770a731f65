"""Docker's config.json: Docker's rules applied, everything else written back token for token.

The JSON reading and writing itself is tested in test_json_roundtrip.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from support.registries import REAL_WORLD_CONFIG, tokens

from docker_credential_convox.registries import docker_config, json_roundtrip
from docker_credential_convox.registries.docker_config import (
    DockerConfig,
    PlaintextLogin,
    UnreadableLogin,
    config_keys_for,
)
from docker_credential_convox.registries.errors import DockerConfigError

WHERE = "Docker config test.json"


def load(directory: Path, text: str) -> DockerConfig:
    (directory / "config.json").write_text(text)
    return DockerConfig.load(str(directory))


def without_member(text: str, name: str) -> str:
    """The document's tokens with the top-level member `name` left out."""
    document = docker_config.parse_document(text, WHERE)
    document.delete(name)
    return tokens(json_roundtrip.render(document))


# --- routing and writing back ------------------------------------------------------------------


def test_routing_a_registry_changes_credhelpers_only(tmp_path: Path) -> None:
    config = load(tmp_path, REAL_WORLD_CONFIG)

    replaced = config.route(["registry.example.com:5000"])
    written = config.render()

    assert replaced == {}
    assert without_member(written, "credHelpers") == without_member(
        REAL_WORLD_CONFIG, "credHelpers"
    )
    assert json.loads(written)["credHelpers"] == {
        "123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login",
        "gcr.io": "gcloud",
        "registry.example.com:5000": "convox",
    }


def test_routing_creates_credhelpers_at_the_end_when_missing(tmp_path: Path) -> None:
    config = load(tmp_path, '{"auths": {}, "psFormat": "table"}')

    config.route(["registry.example.com"])

    assert list(json.loads(config.render())) == ["auths", "psFormat", "credHelpers"]


def test_an_unchanged_config_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"credHelpers": {"registry.example.com": "convox"}}')
    before = path.stat().st_mtime_ns

    docker_config.update(str(tmp_path), lambda config: config.route(["registry.example.com"]))

    assert path.stat().st_mtime_ns == before


def test_a_new_config_is_0600_in_a_new_0700_directory(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "docker"

    docker_config.update(str(directory), lambda config: config.route(["registry.example.com"]))

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    path = directory / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (
        path.read_text() == '{\n\t"credHelpers": {\n\t\t"registry.example.com": "convox"\n\t}\n}\n'
    )


def test_an_existing_config_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o640)

    docker_config.update(str(tmp_path), lambda config: config.route(["registry.example.com"]))

    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [n for n in os.listdir(tmp_path) if n not in ("config.json", ".config.json.lock")]


def test_a_concurrent_rewrite_by_docker_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {}}')
    calls = 0

    def change(config: DockerConfig) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # `docker login` rewrites the file while we are merging
            path.write_text('{"auths": {"other.example.com": {}}}')
        config.route(["registry.example.com"])

    docker_config.update(str(tmp_path), change)

    assert calls == 2
    assert json.loads(path.read_text()) == {
        "auths": {"other.example.com": {}},
        "credHelpers": {"registry.example.com": "convox"},
    }


# --- refusing what is not a config -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"auths": {}', "is not valid JSON (Expecting ',' delimiter: line 1 column 13)"),
        ('{"a": NaN}', "is not valid JSON (NaN is not JSON)"),
        ("[1, 2]", "holds an array, not a JSON object"),
        ('"text"', "holds a string, not a JSON object"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_refused_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)

    with pytest.raises(DockerConfigError) as caught:
        docker_config.update(str(tmp_path), lambda config: config.route(["r.example.com"]))

    assert caught.value.message.startswith(f"Docker config {path} {message}")
    assert "\n" not in caught.value.message
    assert path.read_text() == text


def test_credhelpers_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    config = load(tmp_path, '{"credHelpers": ["convox"]}')

    with pytest.raises(DockerConfigError) as caught:
        config.route(["registry.example.com"])

    assert '"credHelpers" in Docker config' in caught.value.message
    assert "is an array, not a JSON object" in caught.value.message


def test_a_null_credhelpers_is_replaced(tmp_path: Path) -> None:
    config = load(tmp_path, '{"credHelpers": null}')

    config.route(["registry.example.com"])

    assert json.loads(config.render()) == {"credHelpers": {"registry.example.com": "convox"}}


def test_an_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    config = load(tmp_path, "")

    assert config.cred_helpers() == {}
    assert config.plaintext_logins() == []


# --- what the helper does to a config -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "keys"),
    [
        ("registry.example.com", ["registry.example.com"]),
        ("Registry.Example.com:5000", ["Registry.Example.com:5000"]),
        ("https://registry.example.com:5000/", ["registry.example.com:5000"]),
        ("http://registry.example.com/v2/team/app", ["registry.example.com"]),
        ("user:pw@registry.example.com", ["registry.example.com"]),
        ("[::1]:5000", ["[::1]:5000"]),
        ("docker.io", ["https://index.docker.io/v1/", "docker.io"]),
        ("registry-1.docker.io", ["https://index.docker.io/v1/", "docker.io"]),
        ("https://index.docker.io/v1/", ["https://index.docker.io/v1/", "docker.io"]),
    ],
)
def test_credhelpers_keys_are_the_server_as_docker_names_it(typed: str, keys: list[str]) -> None:
    assert config_keys_for(typed) == keys


def test_strip_secrets_removes_only_secret_fields_for_every_spelling(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        json.dumps(
            {
                "auths": {
                    "https://registry.example.com/v1/": {"auth": "eDp5", "email": "e@x"},
                    "registry.example.com": {
                        "username": "u",
                        "password": "p",
                        "identitytoken": "t",
                        "registrytoken": "r",
                    },
                    "registry.example.com:5000": {"auth": "eDp5"},
                }
            }
        ),
    )

    changed = config.strip_secrets("registry.example.com")

    assert changed == ["https://registry.example.com/v1/", "registry.example.com"]
    assert json.loads(config.render())["auths"] == {
        "https://registry.example.com/v1/": {"email": "e@x"},
        "registry.example.com": {"username": "u"},
        "registry.example.com:5000": {"auth": "eDp5"},
    }


def test_plaintext_logins_are_decoded_as_docker_decodes_them(tmp_path: Path) -> None:
    auth = base64.b64encode(b"alice:pa:ss").decode()
    config = load(
        tmp_path,
        json.dumps(
            {
                "auths": {
                    "a.example.com": {"auth": auth, "username": "ignored", "password": "ignored"},
                    "b.example.com": {"username": "bob", "password": "bob-pw"},
                    "c.example.com": {"auth": auth, "identitytoken": "refresh"},
                    "d.example.com": {"auth": "not base64!"},
                    "e.example.com": {"username": "no-password"},
                    "f.example.com": {},
                }
            }
        ),
    )

    found = config.plaintext_logins()

    assert [
        (login.config_key, login.username, login.secret)
        for login in found
        if isinstance(login, PlaintextLogin)
    ] == [
        ("a.example.com", "alice", "pa:ss"),
        ("b.example.com", "bob", "bob-pw"),
        ("c.example.com", "<token>", "refresh"),
    ]
    assert [login.config_key for login in found if isinstance(login, UnreadableLogin)] == [
        "d.example.com"
    ]
    assert "pa:ss" not in repr(found)


def test_unroute_drops_only_this_helpers_entries_for_the_registry(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        json.dumps(
            {
                "credHelpers": {
                    "registry.example.com": "convox",
                    "https://registry.example.com": "convox",
                    "registry.example.com:5000": "convox",
                    "gcr.io": "gcloud",
                }
            }
        ),
    )

    dropped = config.unroute("registry.example.com")

    assert dropped == ["registry.example.com", "https://registry.example.com"]
    assert config.cred_helpers() == {"registry.example.com:5000": "convox", "gcr.io": "gcloud"}


def test_a_symlinked_config_is_written_through_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "docker-config.json"
    target.parent.mkdir()
    target.write_text("{}")
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").symlink_to(target)

    docker_config.update(str(directory), lambda config: config.route(["registry.example.com"]))

    assert (directory / "config.json").is_symlink()
    assert json.loads(target.read_text()) == {"credHelpers": {"registry.example.com": "convox"}}
