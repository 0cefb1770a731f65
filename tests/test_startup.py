"""Start-up stays light: the module entry works, and cheap actions import no heavy library."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import RunHelper, run_helper_in
from support.shared import share

import docker_credential_convox

# Where the package is imported from (a probe run without `site` is told so).
PACKAGE_PARENT = Path(docker_credential_convox.__file__).resolve().parent.parent

pytest_plugins = ["support.aws_emulator"]  # ecr_env: moto behind the AWS proxy

HEAVY = ("boto3", "botocore", "keyring", "secretstorage", "cachetools", "argparse")

PROBE = """
import sys
from docker_credential_convox import cli
code = cli.main(sys.argv[1:])
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
sys.exit(code)
"""


def imported_heavy_modules(env: dict[str, str], *args: str, stdin: bytes = b"") -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("HEAVY=")][-1]
    return [name for name in line[len("HEAVY=") :].split(",") if name]


@pytest.mark.parametrize("args", [["version"], ["--version"], ["--help"], ["bogus"], []])
def test_cheap_actions_import_no_heavy_library(helper_env: dict[str, str], args: list[str]) -> None:
    assert imported_heavy_modules(helper_env, *args) == []


def test_get_of_an_unknown_registry_touches_no_keyring(helper_env: dict[str, str]) -> None:
    assert imported_heavy_modules(helper_env, "get", stdin=b"unknown.example") == []


def test_erase_of_an_unknown_registry_touches_no_keyring(helper_env: dict[str, str]) -> None:
    """No index entry and no pending marker: nothing to sweep, so no secret store, no registry
    lock (hashlib) and no D-Bus."""
    result = subprocess.run(
        [sys.executable, "-c", LAYERS_PROBE.format(layers=ERASE_NEVER_LOADS), "erase"],
        input=b"unknown.example",
        capture_output=True,
        env=helper_env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert (result.returncode, result.stdout) == (0, b"")
    assert line == "LOADED="


def test_list_touches_no_keyring(helper_env: dict[str, str]) -> None:
    assert imported_heavy_modules(helper_env, "list") == []


def test_python_dash_m_runs_the_helper(helper_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docker_credential_convox", "get"],
        input=b"unknown.example",
        capture_output=True,
        env=helper_env,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, b"credentials not found in native keychain\n")


def test_installed_script_and_module_report_the_same_version(helper_env: dict[str, str]) -> None:
    script = run_helper_in(helper_env, "version").stdout
    module = subprocess.run(
        [sys.executable, "-m", "docker_credential_convox", "version"],
        capture_output=True,
        text=True,
        env=helper_env,
        check=True,
    ).stdout
    assert script == module


LAYERS_PROBE = """
import sys
from docker_credential_convox import cli
code = cli.main(sys.argv[1:])
loaded = sorted(name for name in {layers!r} if name in sys.modules)
sys.stderr.write("LOADED=" + ",".join(loaded) + "\\n")
sys.exit(code)
"""

# What only `store` and `erase` write with: the index and secret written as one, and the
# markers of writes that may be half done. No `get` loads them (issue 19 item 8).
WRITERS = (
    "docker_credential_convox.backends.records",
    "docker_credential_convox.pending_markers",
    "docker_credential_convox.registry_index_writer",
)

# The layers a `get` of a registry the helper does not know never needs.
UNNEEDED_FOR_UNKNOWN = (
    "docker_credential_convox.stores.keyring",
    "docker_credential_convox.sources.ecr",
    "docker_credential_convox.backends.ecr",
    "docker_credential_convox.aws",
    "docker_credential_convox.tokencache",
    "docker_credential_convox.filecache",
)


# ...nor an `erase` of one, which has nothing to sweep either (no pending marker).
ERASE_NEVER_LOADS = (
    *HEAVY,
    *UNNEEDED_FOR_UNKNOWN,
    "jeepney",
    "hashlib",
    "docker_credential_convox.stores.secretservice",
)


def test_get_of_an_unknown_registry_loads_no_secret_store_no_ecr_layer_and_no_backend(
    helper_env: dict[str, str],
) -> None:
    layers = (*UNNEEDED_FOR_UNKNOWN, *WRITERS, "docker_credential_convox.backends")
    result = subprocess.run(
        [sys.executable, "-c", LAYERS_PROBE.format(layers=layers), "get"],
        input=b"unknown.example",
        capture_output=True,
        env=helper_env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert result.stdout == b"credentials not found in native keychain\n"
    assert line == "LOADED="


def test_version_loads_no_json(helper_env: dict[str, str]) -> None:
    """`version` prints one line: json (and the `re` it pulls in) is for requests only."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", LAYERS_PROBE.format(layers=("json", "re")), "version"],
        capture_output=True,
        env={**helper_env, "PYTHONPATH": str(PACKAGE_PARENT)},
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert result.returncode == 0, result
    assert line == "LOADED="


# What the hot paths never import: json (they read JSON through minijson, json's own C
# scanner), re (host names are read with string methods), contextlib, and what those pull in.
LEAN = ("json", "re", "contextlib", "enum", "functools", "collections")
# ...nor, where nothing is written, os: minios names the built-in `posix` calls a `get` makes
# (`import os` alone, with the `_collections_abc` registrations it runs, is 15% of a cached
# ECR `get`). The writers (file_writes, records, pending markers) import os as usual.
NO_OS = ("os", "posixpath", "stat", "_collections_abc")


def imported_without_site(
    env: dict[str, str], action: str, stdin: bytes, lean: tuple[str, ...] = LEAN
) -> tuple[bytes, str]:
    """stdout and the `lean` modules loaded by one helper run in `python -S` (no .pth file
    runs: an editable install's hook would import `re` itself)."""
    result = subprocess.run(
        [sys.executable, "-S", "-c", LAYERS_PROBE.format(layers=lean), action],
        input=stdin,
        capture_output=True,
        env={**env, "PYTHONPATH": str(PACKAGE_PARENT)},
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    return result.stdout, line


@pytest.mark.parametrize(
    ("action", "stdin"),
    [("get", b"unknown.example"), ("list", b""), ("erase", b"unknown.example")],
)
def test_hot_paths_load_neither_json_nor_re(
    helper_env: dict[str, str], action: str, stdin: bytes
) -> None:
    stdout, loaded = imported_without_site(helper_env, action, stdin)
    assert stdout in (b"credentials not found in native keychain\n", b"{}\n", b"")
    assert loaded == "LOADED="


@pytest.mark.parametrize(("action", "stdin"), [("get", b"unknown.example"), ("list", b"")])
def test_hot_paths_that_write_nothing_do_not_import_os(
    helper_env: dict[str, str], action: str, stdin: bytes
) -> None:
    stdout, loaded = imported_without_site(helper_env, action, stdin, NO_OS)
    assert stdout in (b"credentials not found in native keychain\n", b"{}\n")
    assert loaded == "LOADED="


# What writes the helper's files: an `erase` that finds nothing to erase writes nothing.
FILE_WRITERS = (
    "docker_credential_convox.backends.records",
    "docker_credential_convox.pending_marker_writes",
    "docker_credential_convox.registry_index_writer",
    "docker_credential_convox.file_writes",
)


def test_an_erase_of_a_registry_never_stored_loads_no_writer_and_not_os(
    helper_env: dict[str, str],
) -> None:
    # podman and skopeo `logout` erase from every helper they know: as fast as a `get` of it.
    stdout, loaded = imported_without_site(
        helper_env, "erase", b"unknown.example", (*FILE_WRITERS, *NO_OS)
    )
    assert stdout == b""
    assert loaded == "LOADED="


def test_a_secret_service_get_reads_without_jeepney_or_the_socket_module(
    helper_env: dict[str, str],
) -> None:
    # jeepney's import (typing, enum, socket, selectors, re) is two thirds of a keyring `get`;
    # the plain read's three calls need a Unix socket and D-Bus's marshalling alone.
    request = json.dumps({"ServerURL": "reg.example", "Username": "u", "Secret": "s3cret"})
    assert run_helper_in(helper_env, "store", stdin=request).returncode == 0
    # In `python -S`: no site-packages, so a fallback to jeepney or keyring would fail the get.
    layers = (*LEAN, "jeepney", "socket", "selectors", "typing", "keyring", "secretstorage")
    stdout, line = imported_without_site(helper_env, "get", b"reg.example", layers)
    assert json.loads(stdout)["Secret"] == "s3cret"
    assert line == "LOADED="


def test_a_cached_ecr_get_loads_neither_json_nor_re_nor_os(ecr_env: dict[str, str]) -> None:
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert run_helper_in(ecr_env, "get", stdin=host).returncode == 0  # mints, fills the cache
    stdout, loaded = imported_without_site(ecr_env, "get", host.encode(), (*LEAN, *NO_OS))
    assert b'"Username":"AWS"' in stdout
    assert loaded == "LOADED="


# What a `get` answered from the token cache never loads (issue 19 item 8): it writes nothing,
# so neither the records writer and its pending markers nor a secret store; and no AWS.
UNNEEDED_FOR_CACHED_ECR = (
    *HEAVY,
    *WRITERS,
    "docker_credential_convox.stores.keyring",
    "docker_credential_convox.aws",
    "hashlib",
)


def test_a_cached_ecr_get_loads_no_writer_and_no_secret_store(ecr_env: dict[str, str]) -> None:
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert run_helper_in(ecr_env, "get", stdin=host).returncode == 0  # mints, fills the cache
    stdout, loaded = loaded_layers(ecr_env, UNNEEDED_FOR_CACHED_ECR, host)
    assert b'"Username":"AWS"' in stdout.replace(b" ", b"")
    assert loaded == "LOADED="


# The token cache's fetch side (issue 19 item 8): fetching under the lock, minting, writing
# the file, remembering failures, forgetting a registry. A `get` answered from the cache runs
# none of it, so it loads none of it: only the read side (tokencache.py, filecache.py).
CACHE_FETCH_SIDE = (
    "docker_credential_convox.filecache_fetch",
    "docker_credential_convox.tokencache_fetch",
    # ...and the ECR backend's: minting a token, recording a source (store, erase).
    "docker_credential_convox.backends.ecr_mint",
    "docker_credential_convox.backends.ecr_store",
)


def test_a_cached_ecr_get_loads_only_the_read_side_of_the_token_cache(
    ecr_env: dict[str, str],
) -> None:
    # The modules exist (a misspelt name here would make the test pass for nothing).
    assert all(importlib.util.find_spec(name) for name in CACHE_FETCH_SIDE)
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert run_helper_in(ecr_env, "get", stdin=host).returncode == 0  # mints, fills the cache
    reader = ("docker_credential_convox.tokencache", "docker_credential_convox.filecache")
    stdout, loaded = loaded_layers(ecr_env, (*CACHE_FETCH_SIDE, *reader), host)
    assert b'"Username":"AWS"' in stdout.replace(b" ", b"")
    assert loaded == "LOADED=" + ",".join(sorted(reader))


# The modules of the other `registries` commands, and the libraries only they need.
UNNEEDED_FOR_REGISTRIES_LIST = (
    "docker_credential_convox.registries.add",
    "docker_credential_convox.registries.remove",
    "docker_credential_convox.registries.importing",
    "docker_credential_convox.registries.doctor",
    "docker_credential_convox.registries.login_check",
    "botocore",
    "keyring",
)


def test_registries_list_loads_only_its_own_command(helper_env: dict[str, str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LAYERS_PROBE.format(layers=UNNEEDED_FOR_REGISTRIES_LIST),
            "registries",
            "list",
        ],
        capture_output=True,
        env=helper_env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert (result.returncode, result.stdout) == (0, b"SERVER  USERNAME  KIND\n"), result
    assert line == "LOADED="


# The write sides of the index and of the helper's files (private directories made, atomic
# writes, locks): modules of their own that only a run that writes loads (issue 19 item 8).
WRITE_SIDES = (
    "docker_credential_convox.registry_index_writer",
    "docker_credential_convox.file_writes",
)


def write_sides_loaded(env: dict[str, str], *args: str, stdin: str = "") -> list[str]:
    """Which WRITE_SIDES one helper run with `args` loaded."""
    result = subprocess.run(
        [sys.executable, "-c", LAYERS_PROBE.format(layers=WRITE_SIDES), *args],
        input=stdin.encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert result.returncode in (0, 1), result
    return [name for name in line[len("LOADED=") :].split(",") if name]


def test_only_store_and_erase_load_the_write_sides(ecr_env: dict[str, str]) -> None:
    """A `get` and a `list` never load the index's write side (put, remove, locks, rewrites)
    nor fileio's (private directories made, atomic writes, locks), cached ECR get and unknown
    get included (issue 19 item 8)."""
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    login = '{"ServerURL": "registry.example", "Username": "someone", "Secret": "s3cret"}'
    assert write_sides_loaded(ecr_env, "store", stdin=login) == sorted(WRITE_SIDES)
    assert run_helper_in(ecr_env, "get", stdin=host).returncode == 0  # mints, fills the cache
    assert write_sides_loaded(ecr_env, "get", stdin=host) == []
    assert write_sides_loaded(ecr_env, "get", stdin="registry.example") == []
    assert write_sides_loaded(ecr_env, "get", stdin="unknown.example") == []
    assert write_sides_loaded(ecr_env, "list") == []
    assert write_sides_loaded(ecr_env, "erase", stdin="registry.example") == sorted(WRITE_SIDES)


# The layers a `get` of a login stored in the keyring never needs: it mints no token, and
# writes nothing.
UNNEEDED_FOR_STORED_LOGIN = (
    *WRITERS,
    "docker_credential_convox.sources.ecr",
    "docker_credential_convox.backends.ecr",
    "docker_credential_convox.aws",
    "docker_credential_convox.tokencache",
    "docker_credential_convox.filecache",
)


def test_get_of_a_stored_login_loads_no_ecr_layer(
    helper_env: dict[str, str], run_helper: RunHelper
) -> None:
    login = '{"ServerURL": "registry.example", "Username": "someone", "Secret": "s3cret"}'
    assert run_helper("store", login).returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", LAYERS_PROBE.format(layers=UNNEEDED_FOR_STORED_LOGIN), "get"],
        input=b"registry.example",
        capture_output=True,
        env=helper_env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    assert b'"Secret":"s3cret"' in result.stdout.replace(b" ", b"")
    assert line == "LOADED="


# Counts the patterns `re` compiles (re._compile: private, present in 3.8 to 3.13), so that a
# regular expression compiled at import but not needed by the request shows up.
COMPILED_PROBE = """
import re
compiled = []
real_compile = re._compile
re._compile = lambda pattern, flags: (compiled.append(pattern), real_compile(pattern, flags))[1]
from docker_credential_convox.server_keys import parse_server
parse_server({server!r})
print(len(set(compiled)))
"""


@pytest.mark.parametrize(
    ("server", "most"),
    [
        ("registry.example", 1),  # the bare host:port pattern
        ("registry.example:5000", 1),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", 2),  # and the ECR host pattern
    ],
)
def test_parsing_a_bare_host_compiles_only_the_patterns_it_uses(server: str, most: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", COMPILED_PROBE.format(server=server)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(result.stdout) <= most


# -- a machine of a fleet: registries shared through AWS Secrets Manager (moto) -------------

pytest_plugins = ["support.aws_emulator", "support.shared"]

# What a `get` answered from the machine's shared cache never loads: no AWS client, no keyring,
# no ECR layer for a shared login.
UNNEEDED_FOR_CACHED_SHARED = (
    *WRITERS,  # a shared entry is only read: no writer is built around it
    "botocore",
    "boto3",
    "keyring",
    "secretstorage",
    "cryptography",
    "cachetools",
    "argparse",
    "hashlib",  # loads OpenSSL: ~10 ms
    "random",  # drawn only when a value is fetched
    "docker_credential_convox.stores.keyring",
    "docker_credential_convox.stores.secretsmanager",
    "docker_credential_convox.aws",
    "docker_credential_convox.backends.ecr",
)


def loaded_layers(env: dict[str, str], layers: tuple[str, ...], server: str) -> tuple[bytes, str]:
    result = subprocess.run(
        [sys.executable, "-c", LAYERS_PROBE.format(layers=layers), "get"],
        input=server.encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    line = [x for x in result.stderr.decode().splitlines() if x.startswith("LOADED=")][-1]
    return result.stdout, line


def test_cached_shared_get_loads_no_aws_client_and_no_keyring(machine: dict[str, str]) -> None:
    shared = share(machine, "shared.example:5000", "fleet", "fleet-secret", "--no-verify")
    assert shared.returncode == 0, shared
    assert run_helper_in(machine, "get", stdin="shared.example:5000").returncode == 0  # cached

    stdout, line = loaded_layers(machine, UNNEEDED_FOR_CACHED_SHARED, "shared.example:5000")

    assert b'"Secret":"fleet-secret"' in stdout.replace(b" ", b"")
    assert line == "LOADED="


def test_cached_shared_miss_loads_no_aws_client(machine: dict[str, str]) -> None:
    assert run_helper_in(machine, "get", stdin="nothing.example").stdout.startswith("credentials")

    stdout, line = loaded_layers(machine, UNNEEDED_FOR_CACHED_SHARED, "nothing.example")

    assert stdout == b"credentials not found in native keychain\n"
    assert line == "LOADED="


def test_cached_token_of_shared_ecr_keys_loads_no_aws_client(machine: dict[str, str]) -> None:
    host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    secret_key = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
    shared = share(machine, host, "AKIAI44QH8DHBEXAMPLE", secret_key)
    assert shared.returncode == 0, shared
    assert run_helper_in(machine, "get", stdin=host).returncode == 0  # mints and caches

    stdout, line = loaded_layers(machine, ("botocore", "keyring", "secretstorage"), host)

    assert b'"Username":"AWS"' in stdout.replace(b" ", b"")
    assert line == "LOADED="


# The shared cache's fetch side (issue 19 item 8): the slot's lock, asking Secrets Manager,
# writing the slot, remembering failures, forgetting. A `get` answered from the machine's cache
# (a value, or the remembered fact that the registry is not shared) runs none of it.
SHARED_CACHE_FETCH_SIDE = (
    "docker_credential_convox.filecache_fetch",
    "docker_credential_convox.shared.cache_fetch",
)


def test_a_cached_shared_get_and_miss_load_neither_json_nor_re_nor_os_nor_the_fetch_side(
    machine: dict[str, str],
) -> None:
    # The modules exist (a misspelt name here would make the test pass for nothing).
    assert all(importlib.util.find_spec(name) for name in SHARED_CACHE_FETCH_SIDE)
    shared = share(machine, "lean.example:5000", "fleet", "fleet-secret", "--no-verify")
    assert shared.returncode == 0, shared
    # An empty cache asks Secrets Manager: the fetch side loads then, and the get works.
    cold, loaded_by_cold = loaded_layers(machine, SHARED_CACHE_FETCH_SIDE, "lean.example:5000")
    assert b'"Secret":"fleet-secret"' in cold.replace(b" ", b"")
    assert loaded_by_cold == "LOADED=" + ",".join(sorted(SHARED_CACHE_FETCH_SIDE))
    run_helper_in(machine, "get", stdin="not-shared.example")  # fills the machine's cache

    lean = (*LEAN, *NO_OS, *SHARED_CACHE_FETCH_SIDE)
    hit, loaded_by_hit = imported_without_site(machine, "get", b"lean.example:5000", lean)
    miss, loaded_by_miss = imported_without_site(machine, "get", b"not-shared.example", lean)

    assert b'"Secret":"fleet-secret"' in hit
    assert miss == b"credentials not found in native keychain\n"
    assert (loaded_by_hit, loaded_by_miss) == ("LOADED=", "LOADED=")
