"""registries/containers.py on its own: which registries.conf files set credential-helpers, our
drop-in keeping what it replaces, and edits of the auth files that lose nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docker_credential_convox.errors import HelperError
from docker_credential_convox.registries import containers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('credential-helpers = ["containers-auth.json"]\n', ["containers-auth.json"]),
        ("credential-helpers=['a', \"b\"]", ["a", "b"]),
        ('"credential-helpers" = [\n  "a", # first\n  "b",\n]\n', ["a", "b"]),
        ('# credential-helpers = ["a"]\nunqualified-search-registries = ["x"]\n', None),
        ('[[registry]]\nlocation = "x"\ncredential-helpers = ["inside a table"]\n', None),
        ('credential-helpers = ["a"]\ncredential-helpers = ["b"]\n', ["b"]),
        ("credential-helpers = []\n", []),
    ],
)
def test_helpers_in_reads_the_top_level_key_only(text: str, expected: object) -> None:
    assert containers.helpers_in(text) == expected


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), **extra}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_users_drop_ins_come_after_the_system_ones_and_a_user_conf_hides_the_system_ones(
    tmp_path: Path,
) -> None:
    env = environ(tmp_path)
    drop_ins = Path(env["HOME"]) / ".config" / "containers" / "registries.conf.d"
    mine = write(drop_ins / "10-mine.conf", "")
    write(drop_ins / "ignored.txt", "")

    files = containers.conf_files(env)
    assert files[0] == containers.SYSTEM_CONF
    assert files[-1] == str(mine)
    assert files.index(str(mine)) > max(
        (i for i, f in enumerate(files) if f.startswith(containers.SYSTEM_DROP_INS)), default=0
    )

    user_conf = write(drop_ins.parent / "registries.conf", "")
    assert containers.conf_files(env) == [str(user_conf), str(mine)]
    explicit = write(tmp_path / "explicit.conf", "")
    assert containers.conf_files({**env, "CONTAINERS_REGISTRIES_CONF": str(explicit)})[0] == str(
        explicit
    )


def test_wire_puts_convox_first_and_keeps_the_helpers_it_replaces(tmp_path: Path) -> None:
    env = environ(tmp_path)
    user_conf = Path(env["HOME"]) / ".config" / "containers" / "registries.conf"
    write(user_conf, 'credential-helpers = ["secretservice", "containers-auth.json"]\n')

    assert containers.wire(env) == []
    helpers, origin = containers.effective_helpers(env)

    assert helpers == ["convox", "secretservice", "containers-auth.json"]
    assert origin == containers.drop_in_path(env)
    assert os.stat(origin).st_mode & 0o777 == containers.DROP_IN_MODE
    # Again: nothing changes, the user's list is not taken for ours.
    assert containers.wire(env) == []
    assert containers.effective_helpers(env)[0] == helpers
    assert containers.unwire(env) is True
    assert containers.effective_helpers(env) == (
        ["secretservice", "containers-auth.json"],
        str(user_conf),
    )
    assert containers.unwire(env) is False


def test_wire_notes_a_later_drop_in_that_overrides_ours(tmp_path: Path) -> None:
    env = environ(tmp_path)
    later = write(
        Path(containers.drop_in_path(env)).parent / "zz-later.conf",
        'credential-helpers = ["containers-auth.json"]\n',
    )

    notes = containers.wire(env)

    assert len(notes) == 1
    assert str(later) in notes[0]


def test_strip_secrets_keeps_every_other_key_and_token_spelling(tmp_path: Path) -> None:
    env = environ(tmp_path)
    path = Path(containers.runtime_auth_file(env))
    text = (
        '{\n  "auths": {\n    "reg.example": {"auth": "YTpi", "email": "x"},\n'
        '    "other.example": {"auth": "Yzpk"}\n  },\n  "n": 1.50,\n  "s": "\\u003c"\n}\n'
    )
    write(path, text).chmod(0o640)

    stripped = containers.strip_secrets([str(path)], "reg.example")

    assert stripped == [(str(path), "reg.example")]
    after = path.read_text()
    assert '"email": "x"' in after
    assert '"other.example": {\n      "auth": "Yzpk"\n    }' in after
    assert '"n": 1.50' in after
    assert '"s": "\\u003c"' in after
    assert "YTpi" not in after
    assert path.stat().st_mode & 0o777 == 0o640  # the file's mode kept


def test_an_auth_file_that_is_not_json_is_refused_in_one_line_naming_it(tmp_path: Path) -> None:
    env = environ(tmp_path)
    path = write(Path(containers.config_auth_file(env)), "{not json")

    with pytest.raises(HelperError) as raised:
        containers.strip_secrets([str(path)], "reg.example")

    assert str(path) in raised.value.message
    assert "\n" not in raised.value.message
    assert path.read_text() == "{not json"


def test_the_runtime_file_without_xdg_runtime_dir_is_the_per_uid_one() -> None:
    assert (
        containers.runtime_auth_file({"HOME": "/h"}) == f"/run/containers/{os.getuid()}/auth.json"
    )
    assert containers.auth_files(
        {"HOME": "/h", "REGISTRY_AUTH_FILE": "/a.json"}, "/h/.docker/config.json"
    ) == [
        "/a.json",
        f"/run/containers/{os.getuid()}/auth.json",
        "/h/.config/containers/auth.json",
    ]


def statuses(checks: list[containers.Check]) -> list[str]:
    return [status for status, _, _ in checks]


def test_check_of_missing_wiring_is_a_problem_only_for_a_registry_meant_for_the_helper(
    tmp_path: Path,
) -> None:
    env = environ(tmp_path)
    docker = str(tmp_path / "home" / ".docker" / "config.json")
    add = "docker-credential-convox registries add reg.example"

    held = containers.check(env, docker, "reg.example", add, held=True, routed=False)
    unknown = containers.check(env, docker, "reg.example", add, held=False, routed=False)
    with_docker_config = containers.check(
        {**env, "DOCKER_CONFIG": str(tmp_path / "home" / ".docker")},
        docker,
        "reg.example",
        add,
        held=True,
        routed=True,
    )

    assert statuses(held) == ["problem"]
    assert held[0][2] == f"run `{add}`"
    assert containers.runtime_auth_file(env) in held[0][1]
    assert statuses(unknown) == ["note"]
    # With DOCKER_CONFIG set, config.json is their auth file and its credHelpers route it.
    assert statuses(with_docker_config) == ["ok"]
    containers.wire(env)
    assert statuses(containers.check(env, docker, "reg.example", add, held=True, routed=True)) == [
        "ok"
    ]


def test_check_flags_a_plaintext_entry_naming_the_file_never_the_secret(tmp_path: Path) -> None:
    env = environ(tmp_path)
    containers.wire(env)
    path = write(
        Path(containers.config_auth_file(env)),
        '{"auths": {"https://reg.example": {"auth": "YTpi"}}}',
    )

    checks = containers.check(env, "/nonexistent", "reg.example", "add", held=True, routed=True)

    assert statuses(checks) == ["problem", "ok"]
    assert str(path) in checks[0][1]
    assert "YTpi" not in repr(checks)
    assert "a:b" not in repr(checks)
