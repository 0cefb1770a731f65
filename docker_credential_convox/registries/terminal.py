"""Prompts on the terminal and the password piped into --password-stdin."""

from __future__ import annotations

import getpass
import warnings
from typing import TextIO

from docker_credential_convox.registries.errors import UsageError

MAX_PASSWORD_BYTES = 64 * 1024
USERNAME_PROMPT = "Username: "
PASSWORD_PROMPT = "Password: "  # noqa: S105 - a prompt


class Terminal:
    """Prompts on the controlling terminal, as getpass does; stdin and stderr without one."""

    def __init__(self, stdin: TextIO, err: TextIO) -> None:
        self.stdin = stdin
        self.err = err

    def interactive(self) -> bool:
        """Whether a person can be asked: stdin is a terminal."""
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def ask(self, prompt: str) -> str:
        """One line typed after `prompt`, echoed; EOFError on end of input."""
        try:
            tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            tty = None
        if tty is not None:
            with tty:
                tty.write(prompt)
                tty.flush()
                line = tty.readline()
        else:
            self.err.write(prompt)
            self.err.flush()
            line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def ask_secret(self, prompt: str) -> str:
        """One line typed after `prompt`, not echoed; EOFError on end of input."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)  # never echo a password
            try:
                return getpass.getpass(prompt, stream=self.err)
            except getpass.GetPassWarning:
                raise UsageError(
                    "cannot turn off echo on this terminal to read the password; "
                    "pipe it into --password-stdin instead"
                ) from None


def read_password_stdin(stdin: TextIO) -> str:
    """The password piped into stdin, minus one trailing newline (as docker login does)."""
    data = stdin.read(MAX_PASSWORD_BYTES + 1)
    if len(data) > MAX_PASSWORD_BYTES:
        raise UsageError(f"the password on stdin is longer than {MAX_PASSWORD_BYTES // 1024} KiB")
    if data.endswith("\n"):
        data = data[:-1]
    if data.endswith("\r"):
        data = data[:-1]
    return data
