"""`docker-credential-convox registries add | remove | list | import | doctor`: the commands.

After one `registries add SERVER`, Docker, BuildKit, skopeo and docker-py use the helper for
that registry: the credentials are checked, stored through the helper's own `store` (the OS
keyring, or the ECR backend's credential sources) and `"credHelpers": {"SERVER": "convox"}` is
merged into Docker's config.json.

Imported only for the `registries` command: argparse and the rest stay off the `get` path. This
module parses and dispatches; each command is a module of its own with a `run(ctx, args)`, and
is imported only when it runs.

User-facing rules: prompts and notes on the terminal/stderr, `Done.` and tables on stdout; every
error is one line on stderr with exit 1, after which nothing has changed; no secret is ever
printed, and a password is never taken from argv.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping, Sequence
from typing import Callable, Optional, TextIO

from docker_credential_convox.errors import HelperError, report_internal_error
from docker_credential_convox.registries.context import Context
from docker_credential_convox.registries.errors import UsageError
from docker_credential_convox.registries.parser import PROG, Exit, build_parser

Command = Callable[[Context, argparse.Namespace], int]


def _command(name: str) -> Command:
    """The `run` of the command `name` (or its alias), importing only that command's module."""
    if name == "add":
        from docker_credential_convox.registries.add import run
    elif name in ("remove", "rm"):
        from docker_credential_convox.registries.remove import run
    elif name in ("list", "ls"):
        from docker_credential_convox.registries.listing import run
    elif name == "import":
        from docker_credential_convox.registries.importing import run
    else:
        from docker_credential_convox.registries.doctor import run
    return run


def _unknown_arguments(words: Sequence[str], command: Optional[str]) -> UsageError:
    """The error for words argparse did not take, quoting only the options among them: the
    word after a mistyped option may be a password."""
    options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
    what = f"unknown option {' '.join(options)}" if options else "unexpected arguments"
    prog = f"{PROG} {command}" if command else PROG
    return UsageError(f"{what}; see `{prog} --help`")


def _report(err: TextIO, exc: HelperError) -> None:
    """An error as one line, then its hint (what to do about it) when it has one."""
    err.write(" ".join(exc.message.split()) + "\n")
    if exc.hint:
        err.write(exc.hint.rstrip("\n") + "\n")


def main(
    argv: Sequence[str],
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
    stdin: Optional[TextIO] = None,
) -> int:
    """Run `registries ARGV...` and return the exit code."""
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args, unknown = parser.parse_known_args(list(argv))
        if unknown:
            raise _unknown_arguments(unknown, args.command)
    except Exit as done:
        return done.code
    except UsageError as exc:
        _report(err, exc)
        return 1
    ctx = Context(out, err, stdin or sys.stdin, environ)
    command = _command(args.command or "list")
    try:
        return command(ctx, args)
    except HelperError as exc:
        _report(err, exc)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        report_internal_error(exc, PROG, ctx.settings.debug, err, err)
        return 1
