"""`registries add` at a terminal: a real pseudo-terminal (stdlib `pty`) is the user's keyboard.

The helper runs as the session leader of a new pty, so /dev/tty is that terminal, as in a shell.
Everything it writes is read back as the user would see it (the terminal turns "\\n" into
"\\r\\n" and echoes what is typed unless echo is off).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import select
import termios
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import HELPER, docker_config_path, helper_listing, keyring_usernames
from support.registries import get_credentials, read_config

from standins.environment import FAKE_AWS_ENV
from standins.registry import Registry

if TYPE_CHECKING:
    from support.aws_emulator import AwsProxy

pytest_plugins = ["support.aws_emulator"]

TIMEOUT_SECONDS = 30.0


class Terminal:
    """A helper process on the far side of a pseudo-terminal, and everything it printed."""

    def __init__(self, env: Mapping[str, str], *args: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the helper at once
            try:
                os.execve(str(HELPER), [str(HELPER), *args], dict(env))  # noqa: S606
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.transcript = ""
        self.returncode: int | None = None

    def read_until(self, text: str) -> str:
        """Read until the transcript ends with `text` (a prompt waits for input)."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not self.transcript.endswith(text):
            if not self._read_some(deadline):
                raise AssertionError(f"no {text!r} on the terminal; it showed {self.transcript!r}")
        return self.transcript

    def echo_enabled(self) -> bool:
        """Whether the terminal echoes what is typed right now."""
        return bool(termios.tcgetattr(self.fd)[3] & termios.ECHO)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def finish(self) -> tuple[int, str]:
        """Read to the end; the exit code and the whole transcript."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while self._read_some(deadline):
            pass
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.fd)
        return self.returncode, self.transcript

    def _read_some(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the terminal went quiet; it showed {self.transcript!r}")
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return self._read_some(deadline)
        try:
            data = os.read(self.fd, 4096)
        except OSError as exc:  # EIO: the helper closed the terminal (exited)
            if exc.errno == errno.EIO:
                return False
            raise
        self.transcript += data.decode("utf-8", "replace")
        return bool(data)

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            with contextlib.suppress(OSError):
                os.close(self.fd)


@contextlib.contextmanager
def terminal(env: Mapping[str, str], *args: str) -> Iterator[Terminal]:
    session = Terminal(env, *args)
    try:
        yield session
    finally:
        session.kill()


def test_add_prompts_username_then_password_without_echo_then_says_done(
    helper_env: dict[str, str], registry: Registry
) -> None:
    with terminal(helper_env, "registries", "add", registry.host) as user:
        assert user.read_until("Username: ") == "Username: "
        assert user.echo_enabled()
        user.type(registry.username + "\n")
        user.read_until("Password: ")
        assert not user.echo_enabled()
        user.type(registry.password + "\n")
        code, shown = user.finish()

    assert code == 0, shown
    assert shown == f"Username: {registry.username}\r\nPassword: \r\nDone.\r\n"
    assert registry.password not in shown
    assert get_credentials(helper_env, registry.host) == {
        "ServerURL": registry.host,
        "Username": registry.username,
        "Secret": registry.password,
    }
    assert read_config(helper_env) == {"credHelpers": {registry.host: "convox"}}


def test_add_at_a_terminal_with_a_wrong_password_says_why_in_one_line_and_stores_nothing(
    helper_env: dict[str, str], registry: Registry
) -> None:
    wrong = "wrong-" + registry.password
    with terminal(helper_env, "registries", "add", registry.host) as user:
        user.read_until("Username: ")
        user.type(registry.username + "\n")
        user.read_until("Password: ")
        user.type(wrong + "\n")
        code, shown = user.finish()

    assert code == 1, shown
    prompts, _, rest = shown.partition("Password: \r\n")
    assert prompts == f"Username: {registry.username}\r\n"
    assert rest.startswith(f"unable to authenticate to {registry.host}: ")
    assert rest.count("\r\n") == 1
    assert wrong not in shown
    assert helper_listing(helper_env) == {}
    assert not docker_config_path(helper_env).exists()


def test_add_at_a_terminal_with_username_given_prompts_only_for_the_password(
    helper_env: dict[str, str], registry: Registry
) -> None:
    with terminal(
        helper_env, "registries", "add", registry.host, "--username", registry.username
    ) as user:
        assert user.read_until("Password: ") == "Password: "
        user.type(registry.password + "\n")
        code, shown = user.finish()

    assert (code, shown) == (0, "Password: \r\nDone.\r\n")


def test_end_of_input_at_the_username_prompt_stores_nothing(
    helper_env: dict[str, str],
) -> None:
    with terminal(helper_env, "registries", "add", "registry.example.com") as user:
        user.read_until("Username: ")
        user.type("\x04")  # Ctrl-D
        code, shown = user.finish()

    assert code == 1, shown
    assert shown.endswith("no username given\r\n")
    assert helper_listing(helper_env) == {}


def test_a_blank_username_at_the_prompt_is_refused(helper_env: dict[str, str]) -> None:
    with terminal(helper_env, "registries", "add", "registry.example.com") as user:
        user.read_until("Username: ")
        user.type("\n")
        code, shown = user.finish()

    assert (code, shown) == (1, "Username: \r\nthe username must not be blank\r\n")


def test_add_ecr_at_a_terminal_takes_the_secret_access_key_unechoed(
    ecr_env: dict[str, str],
) -> None:
    host = "210987654321.dkr.ecr.us-east-1.amazonaws.com"
    secret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
    with terminal(ecr_env, "registries", "add", host, "--username", "AKIAI44QH8DHBEXAMPLE") as user:
        user.read_until("Password: ")
        assert not user.echo_enabled()
        user.type(secret + "\n")
        code, shown = user.finish()

    assert (code, shown) == (0, "Password: \r\nDone.\r\n")
    assert helper_listing(ecr_env) == {host: "AKIAI44QH8DHBEXAMPLE"}
    assert (get_credentials(ecr_env, host) or {}).get("Username") == "AWS"


# --- ECR at a terminal: the Convox page's cross-account example ----------------------------------

ECR_KEY_ID = "AKIAJ7GE3UMOANV37YNQ"
ECR_SECRET = "wJalrXUtnFEMI/K7MDENG/prompted/EXAMPLEKEY"  # moto checks no signature


@pytest.fixture
def ecr_host() -> str:
    """A cross-account ECR host of its own per test: the Secret Service is shared by the session."""
    account = 10**11 + uuid.uuid4().int % (9 * 10**11)
    return f"{account}.dkr.ecr.us-east-1.amazonaws.com"


def index_entry(env: Mapping[str, str], key: str) -> dict[str, object] | None:
    path = Path(env["XDG_CONFIG_HOME"]) / "docker-credential-convox" / "registries.json"
    if not path.exists():
        return None
    entry: dict[str, object] | None = json.loads(path.read_text())["registries"].get(key)
    return entry


def test_add_ecr_at_a_terminal_prompts_for_access_keys_like_convox_and_mints_with_them(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    with terminal(ecr_env, "registries", "add", ecr_host) as user:
        assert user.read_until("Username: ") == "Username: "
        assert user.echo_enabled()
        user.type(ECR_KEY_ID + "\n")
        user.read_until("Password: ")
        assert not user.echo_enabled()
        user.type(ECR_SECRET + "\n")
        code, shown = user.finish()

    assert (code, shown) == (0, f"Username: {ECR_KEY_ID}\r\nPassword: \r\nDone.\r\n")
    # Verified by minting with the prompted keys, not with the environment's.
    assert [call.access_key_id for call in aws_proxy.calls_of("ecr:GetAuthorizationToken")] == [
        ECR_KEY_ID
    ]
    entry = index_entry(ecr_env, ecr_host)
    assert entry is not None
    assert (entry["Username"], entry["Source"]) == (ECR_KEY_ID, "ecr-keys")
    assert keyring_usernames(ecr_env, ecr_host) == [ECR_KEY_ID]
    assert read_config(ecr_env) == {"credHelpers": {ecr_host: "convox"}}
    assert (get_credentials(ecr_env, ecr_host) or {}).get("Username") == "AWS"


def test_add_ecr_at_a_terminal_with_an_empty_username_uses_the_default_chain_with_its_note(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    with terminal(ecr_env, "registries", "add", ecr_host) as user:
        user.read_until("Username: ")
        user.type("\n")
        code, shown = user.finish()

    assert code == 0, shown
    assert shown.startswith("Username: \r\nUsing the AWS default credential chain for ")
    assert shown.endswith("\r\nDone.\r\n")
    assert "Password: " not in shown
    env_key = FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"]
    assert [call.access_key_id for call in aws_proxy.calls_of("ecr:GetAuthorizationToken")] == [
        env_key
    ]
    assert index_entry(ecr_env, ecr_host) is None
    assert read_config(ecr_env) == {"credHelpers": {ecr_host: "convox"}}


def test_add_ecr_at_a_terminal_refuses_keys_aws_rejects_and_stores_nothing(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str
) -> None:
    # FAKE: moto accepts any keys; the proxy answers as AWS does for keys it does not know.
    aws_proxy.fail(
        "ecr:GetAuthorizationToken",
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    with terminal(ecr_env, "registries", "add", ecr_host) as user:
        user.read_until("Username: ")
        user.type(ECR_KEY_ID + "\n")
        user.read_until("Password: ")
        user.type(ECR_SECRET + "\n")
        code, shown = user.finish()

    assert code == 1, shown
    prompts, _, rest = shown.partition("Password: \r\n")
    assert prompts == f"Username: {ECR_KEY_ID}\r\n"
    assert rest.startswith(
        f"unable to authenticate to {ecr_host} using the access key {ECR_KEY_ID}"
    )
    assert "UnrecognizedClientException" in rest
    # One error line, then the hint built for it.
    assert rest.count("\r\n") == 2
    assert rest.split("\r\n")[1].startswith("hint: AWS does not accept these credentials")
    assert ECR_SECRET not in shown
    assert helper_listing(ecr_env) == {}
    assert keyring_usernames(ecr_env, ecr_host) == []
    assert not docker_config_path(ecr_env).exists()


# --- no usable keyring: said before any prompt (issue 19 item 7) ---------------------------------


def no_keyring(env: Mapping[str, str], tmp_path: Path) -> dict[str, str]:
    """`env` with a session bus address where nothing listens: no Secret Service answers."""
    return {**env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}


def test_add_at_a_terminal_without_a_keyring_says_so_in_one_line_before_any_prompt(
    helper_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    with terminal(no_keyring(helper_env, tmp_path), "registries", "add", registry.host) as user:
        code, shown = user.finish()  # nothing typed: a prompt would wait until the timeout

    assert code == 1, shown
    assert "Username: " not in shown
    first, _, hint = shown.partition("\r\n")
    assert first.startswith("no usable OS keyring: "), shown
    assert hint.startswith("hint: "), shown
    assert "Traceback" not in shown
    assert not docker_config_path(helper_env).exists()  # nothing routed


def test_add_ecr_at_a_terminal_without_a_keyring_refuses_access_keys_before_the_secret(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str, tmp_path: Path
) -> None:
    with terminal(no_keyring(ecr_env, tmp_path), "registries", "add", ecr_host) as user:
        user.read_until("Username: ")  # an empty answer chooses the default chain: no keyring
        user.type(ECR_KEY_ID + "\n")
        code, shown = user.finish()

    assert code == 1, shown
    assert "Password: " not in shown
    assert shown.split("\r\n")[1].startswith("no usable OS keyring: "), shown
    assert aws_proxy.calls_of("ecr:GetAuthorizationToken") == []
    assert index_entry(ecr_env, ecr_host) is None


def test_add_ecr_at_a_terminal_without_a_keyring_still_takes_the_default_chain(
    ecr_env: dict[str, str], aws_proxy: AwsProxy, ecr_host: str, tmp_path: Path
) -> None:
    with terminal(no_keyring(ecr_env, tmp_path), "registries", "add", ecr_host) as user:
        user.read_until("Username: ")
        user.type("\n")
        code, shown = user.finish()

    assert code == 0, shown
    assert shown.endswith("\r\nDone.\r\n")
    assert read_config(ecr_env) == {"credHelpers": {ecr_host: "convox"}}
