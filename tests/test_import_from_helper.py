"""`registries import --from-helper NAME`: every entry of another credential helper copied into
ours, Docker's config (and the containers tools) routed to us, the old entries left in place.

The sources are the real Go helpers Debian packages (golang-docker-credential-helpers):
`docker-credential-secretservice` on the same real Secret Service as ours, and
`docker-credential-pass` on real `pass` and `gpg` with a passphrase-less key made for the test.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from support import docker_config_path, helper_listing, require_tools, run_client
from support.registries import assert_one_line_error, get_credentials, registries

from standins.registry import Registry

pytestmark = pytest.mark.clients

OTHER_SERVER = "https://other.example.test:8443"
OTHER_USERNAME = "ci-bot"
OTHER_SECRET = 'p<a>"s\\s \u00e9 \u2028'  # everything a JSON writer may spell differently


def go_helper(
    env: Mapping[str, str], name: str, action: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return run_client(env, f"docker-credential-{name}", action, stdin=stdin)


def go_store(env: Mapping[str, str], name: str, server: str, username: str, secret: str) -> None:
    payload = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    stored = go_helper(env, name, "store", payload)
    assert stored.returncode == 0, stored


def go_listing(env: Mapping[str, str], name: str) -> dict[str, str]:
    listed = go_helper(env, name, "list")
    assert listed.returncode == 0, listed
    listing: dict[str, str] = json.loads(listed.stdout)
    return listing


@pytest.fixture
def client_env(helper_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {**helper_env, "XDG_RUNTIME_DIR": str(runtime)}


@pytest.fixture
def pass_env(client_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`pass` initialised with a passphrase-less gpg key in a GNUPGHOME of the test's own."""
    require_tools("pass", "gpg", "gpgconf", "docker-credential-pass")
    # Short: gpg-agent's socket goes in GNUPGHOME, and a socket path has ~100 bytes at most.
    gnupg = Path(tempfile.mkdtemp(prefix="dccx-gpg-"))
    gnupg.chmod(0o700)
    env = {**client_env, "GNUPGHOME": str(gnupg)}
    try:
        made = run_client(
            env,
            *("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""),
            *("--quick-gen-key", "dccx test <dccx@example.test>", "default", "default", "never"),
        )
        assert made.returncode == 0, made
        initialised = run_client(env, "pass", "init", "dccx@example.test")
        assert initialised.returncode == 0, initialised
        yield env
    finally:
        run_client(env, "gpgconf", "--kill", "all")  # the agent gpg started for this home
        shutil.rmtree(gnupg, ignore_errors=True)


@pytest.fixture(params=["secretservice", "pass"])
def source(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """(helper name, environment in which it works)."""
    name: str = request.param
    require_tools(f"docker-credential-{name}")
    env = request.getfixturevalue("pass_env" if name == "pass" else "client_env")
    return name, env


def test_import_from_helper_copies_every_entry_routes_them_and_leaves_the_old_ones(
    source: tuple[str, dict[str, str]], registry: Registry, registry_image: str
) -> None:
    name, env = source
    go_store(env, name, registry.host, registry.username, registry.password)
    go_store(env, name, OTHER_SERVER, OTHER_USERNAME, OTHER_SECRET)
    docker_config_path(env).write_text(json.dumps({"credHelpers": {registry.host: name}, "x": 1.0}))
    before = go_listing(env, name)

    imported = registries(env, "import", "--from-helper", name)

    assert imported.returncode == 0, imported
    assert f"Copied {registry.host} ({registry.username}) from docker-credential-{name}" in (
        imported.stdout
    )
    assert f"docker-credential-{name} still holds" in imported.stdout
    assert get_credentials(env, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    other = get_credentials(env, OTHER_SERVER) or {}
    assert (other.get("Username"), other.get("Secret")) == (OTHER_USERNAME, OTHER_SECRET)
    config = json.loads(docker_config_path(env).read_text())
    assert config["credHelpers"] == {registry.host: "convox", "other.example.test:8443": "convox"}
    assert config["x"] == 1.0
    drop_in = (
        Path(env["HOME"]) / ".config/containers/registries.conf.d/docker-credential-convox.conf"
    )
    assert 'credential-helpers = ["convox"' in drop_in.read_text()
    # The old helper keeps everything it had.
    assert go_listing(env, name) == before
    assert json.loads(go_helper(env, name, "get", OTHER_SERVER).stdout)["Secret"] == OTHER_SECRET
    assert OTHER_SECRET not in imported.stdout + imported.stderr
    # A client now gets the credentials through ours.
    inspected = run_client(
        env, "skopeo", "inspect", "--tls-verify=false", f"docker://{registry_image}"
    )
    assert inspected.returncode == 0, inspected


def test_import_from_a_helper_not_on_path_is_one_line_and_changes_nothing(
    client_env: dict[str, str],
) -> None:
    result = registries(client_env, "import", "--from-helper", "nosuchhelper")

    line = assert_one_line_error(result)
    assert "docker-credential-nosuchhelper" in line
    assert "PATH" in line
    assert not docker_config_path(client_env).exists()
    assert helper_listing(client_env) == {}


def test_import_from_a_helper_whose_list_fails_is_one_line_and_changes_nothing(
    pass_env: dict[str, str], registry: Registry
) -> None:
    go_store(pass_env, "pass", registry.host, registry.username, registry.password)
    # What an interrupted erase leaves in pass's store: a server directory without a username,
    # on which docker-credential-pass's own `list` fails ("no usernames for ...").
    store = Path(pass_env["HOME"]) / ".password-store" / "docker-credential-helpers"
    (store / base64.urlsafe_b64encode(b"broken.example.test").decode()).mkdir()

    result = registries(pass_env, "import", "--from-helper", "pass")

    line = assert_one_line_error(result, registry.password)
    assert "docker-credential-pass list failed" in line
    assert not docker_config_path(pass_env).exists()
    assert helper_listing(pass_env) == {}


def test_import_from_a_helper_whose_get_fails_for_one_entry_stores_nothing(
    pass_env: dict[str, str], registry: Registry
) -> None:
    go_store(pass_env, "pass", registry.host, registry.username, registry.password)
    go_store(pass_env, "pass", OTHER_SERVER, OTHER_USERNAME, OTHER_SECRET)
    # Damage one entry in pass's store: gpg cannot decrypt it any more.
    store = Path(pass_env["HOME"]) / ".password-store" / "docker-credential-helpers"
    damaged = sorted(store.rglob(f"{OTHER_USERNAME}.gpg"))
    assert len(damaged) == 1
    damaged[0].write_bytes(b"not an OpenPGP message")

    result = registries(pass_env, "import", "--from-helper", "pass")

    line = assert_one_line_error(result, OTHER_SECRET, registry.password)
    assert "docker-credential-pass get" in line
    assert OTHER_SERVER in line
    assert not docker_config_path(pass_env).exists()
    assert helper_listing(pass_env) == {}


def test_import_from_ourselves_is_refused(client_env: dict[str, str]) -> None:
    line = assert_one_line_error(registries(client_env, "import", "--from-helper", "convox"))
    assert "convox" in line


def test_import_help_describes_from_helper(client_env: dict[str, str]) -> None:
    result = registries(client_env, "import", "--help")

    assert result.returncode == 0, result
    assert "--from-helper NAME" in result.stdout
