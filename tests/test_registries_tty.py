"""`registries add` at a terminal: a real pseudo-terminal (stdlib `pty`) is the user's keyboard.

The helper runs as the session leader of a new pty, so /dev/tty is that terminal, as in a shell.
Everything it writes is read back as the user would see it (the terminal turns "\\n" into
"\\r\\n" and echoes what is typed unless echo is off).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pty
import select
import termios
import time
from collections.abc import Iterator, Mapping

from conftest import HELPER, helper_listing
from fixtures_services import Registry
from test_registries import config_path, get_credentials, read_config

pytest_plugins = ["fixtures_aws"]

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
    assert not config_path(helper_env).exists()


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
