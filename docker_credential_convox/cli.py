"""argv -> action. The only place that prints and chooses exit codes.

stdout carries only the protocol (replies, and errors as the reference helpers print them);
hints and diagnostics go to stderr. No Python traceback ever reaches the user's terminal
unless DOCKER_CREDENTIAL_CONVOX_DEBUG is set.
"""

from __future__ import annotations

import sys

from docker_credential_convox import APP, DISTRIBUTION, TYPE_CHECKING, __version__, minios, protocol
from docker_credential_convox.errors import BadRequest, HelperError, report_internal_error

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Optional, TextIO

NAME = APP

HELP = f"""\
{protocol.usage(NAME)}

A Docker credential helper. Docker, BuildKit, skopeo and docker-py run it with one action
and speak JSON over stdin/stdout:

  store    read {{"ServerURL", "Username", "Secret"}} from stdin and keep it
  get      read a server URL from stdin, print its credentials as JSON
  erase    read a server URL from stdin, forget its credentials (nothing stored is fine)
  list     print {{"<server URL>": "<username>", ...}} for every stored registry
  version  print the version

To add, remove, list or import registries by hand, run `{NAME} registries --help`.
As a kubelet image credential provider: `{NAME} kubelet` (one CredentialProviderRequest on
stdin); `{NAME} kubelet config --help` prints the CredentialProviderConfig entry.

Amazon ECR hosts get registry tokens minted with botocore; every other registry keeps its
username and secret in the OS keyring. Wire a registry into Docker with
  "credHelpers": {{"registry.example.com": "convox"}}
in ~/.docker/config.json.

Environment: DOCKER_CREDENTIAL_CONVOX_DEBUG=1 prints debug lines on stderr;
DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR and DOCKER_CREDENTIAL_CONVOX_CACHE_DIR move its files;
ecr-login's AWS_ECR_CACHE_DIR and AWS_ECR_DISABLE_CACHE are honoured when ours are unset;
PYTHON_KEYRING_BACKEND chooses the keyring backend;
DOCKER_CREDENTIAL_CONVOX_SECRET_SERVICE_SESSION=encrypted reads the Secret Service through an
encrypted session instead of a plain one.

Registries shared by a fleet, written once by an operator with
  {NAME} registries add SERVER --shared
On each machine of the fleet, DOCKER_CREDENTIAL_CONVOX_SHARED=secretsmanager:PREFIX
answers registries without a local entry from AWS Secrets Manager (secrets PREFIX/<registry>;
region, endpoint and credentials from the usual AWS settings and default chain), without any
keyring. Local entries win; store and erase stay local. Empty or `off` turns it off. Or, where
the client's environment is not yours to set, in <config dir>/config.json:
  {{"shared": "secretsmanager:PREFIX", "shared_max_age": 300, "shared_stale_for": 3600}}
(<config dir>: DOCKER_CREDENTIAL_CONVOX_CONFIG_DIR, else $XDG_CONFIG_HOME/{NAME},
else ~/.config/{NAME}). Each machine caches shared values in its runtime
directory (DOCKER_CREDENTIAL_CONVOX_RUNTIME_DIR, else $XDG_RUNTIME_DIR/{NAME}) for
DOCKER_CREDENTIAL_CONVOX_SHARED_MAX_AGE seconds (default 300, jittered down to 3/4), and while
Secrets Manager is throttling or unreachable serves them for up to
DOCKER_CREDENTIAL_CONVOX_SHARED_STALE_FOR seconds more (default 3600), with a warning.
"""


def _run_action(
    action: str,
    stdin: IO[bytes],
    stdout: TextIO,
    environ: Mapping[str, str],
    stderr: TextIO,
) -> None:
    from docker_credential_convox.diagnostics import Diagnostics
    from docker_credential_convox.helper import Helper
    from docker_credential_convox.settings import Settings

    settings = Settings(environ)
    helper = Helper(settings, Diagnostics(stderr, settings.debug))
    if action == "store":
        helper.store(protocol.parse_credentials(protocol.read_request(stdin)))
    elif action == "get":
        credentials = helper.get(protocol.parse_server_url(protocol.read_request(stdin)))
        _write_reply(stdout, protocol.render_credentials(credentials))
    elif action == "erase":
        helper.erase(protocol.parse_server_url(protocol.read_request(stdin)))
    else:  # list: stdin is ignored (docker sends "unused", docker-py nothing)
        _write_reply(stdout, protocol.render_listing(helper.list()))


def _utf8(text: str) -> bytes:
    """`text` in UTF-8; argv's undecodable bytes as they came, any other surrogate as `?`."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _write_reply(stdout: TextIO, reply: bytes) -> None:
    """`reply` as its UTF-8 bytes, whatever encoding the locale gave the text stream. `main`
    always hands its actions a GuardedOutput, which knows how (and remembers a failed write)."""
    guarded = stdout if isinstance(stdout, GuardedOutput) else GuardedOutput(stdout)
    guarded.write_bytes(reply)


def _debug_enabled(environ: Mapping[str, str]) -> bool:
    from docker_credential_convox.settings import ENV_DEBUG, is_true

    return is_true(environ.get(ENV_DEBUG))


class GuardedOutput:
    """stdout for one run: the first write or flush that fails (closed, full, its reader gone) is
    remembered and everything after it dropped, so the action still runs exactly once and `main`
    says so in one line on stderr instead of a traceback."""

    def __init__(self, stream: Optional[TextIO]) -> None:
        self._stream = stream
        self.failure = ""

    def write(self, text: str) -> int:
        if self.failure or not text:
            return len(text)
        if self._stream is None:  # nothing to write to: only output that matters fails
            self.failure = "it is closed"
            return len(text)
        try:
            self._stream.write(text)
        except (OSError, ValueError) as exc:
            self.failure = _why_unwritable(exc)
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        """`data` as it is, through the stream's binary buffer when it has one (a reply's
        UTF-8 must not depend on the locale's encoding of the text stream)."""
        if self.failure or not data:
            return
        if self._stream is None:
            self.failure = "it is closed"
            return
        try:
            buffer = getattr(self._stream, "buffer", None)
            if buffer is None:  # a text-only stream (io.StringIO) from a caller in this process
                self._stream.write(data.decode("utf-8", "surrogateescape"))
            else:
                self._stream.flush()
                buffer.write(data)
        except (OSError, ValueError) as exc:
            self.failure = _why_unwritable(exc)

    def flush(self) -> None:
        if not self.failure and self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self.failure = _why_unwritable(exc)

    def isatty(self) -> bool:
        try:
            return not self.failure and self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False


def _why_unwritable(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return "it is closed"  # ValueError: I/O operation on closed file


def _writes_to_fd_1(stream: Optional[TextIO]) -> bool:
    """Whether `stream` is the process's own stdout, not a replacement (a test's capture)."""
    try:
        return stream is not None and stream.fileno() == 1
    except (OSError, ValueError, AttributeError):
        return False


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null (or reserve it when closed): Python's own flush at
    exit must not fail a second time, and no file the helper opens may become its stdout."""
    try:
        devnull = minios.open(minios.DEVNULL, minios.O_WRONLY)
    except OSError:
        return
    if devnull != 1:
        try:  # noqa: SIM105 - contextlib is not worth importing on the hot path for this
            minios.dup2(devnull, 1)
        except OSError:
            pass
        minios.close(devnull)


def main(
    argv: Optional[Sequence[str]] = None,
    stdin: Optional[IO[bytes]] = None,
    stdout: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> int:
    """Run one helper invocation and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    own_stdout = stdout is None
    if own_stdout and sys.stdout is None:  # started with stdout closed (`>&-`)
        _silence_stdout()
    guarded = GuardedOutput(sys.stdout if own_stdout else stdout)
    err: TextIO = stderr or sys.stderr or GuardedOutput(None)  # type: ignore[assignment]
    env = minios.environ() if environ is None else environ
    out: TextIO = guarded  # type: ignore[assignment]
    code = _dispatch(args, stdin, out, err, env)
    guarded.flush()
    if not guarded.failure:
        return code
    err.write(f"{NAME}: cannot write its output to stdout ({guarded.failure})\n")
    if own_stdout and _writes_to_fd_1(sys.stdout):
        _silence_stdout()
    return code or 1


def _dispatch(  # noqa: PLR0911, PLR0912 - one return per outcome keeps the exit codes in view
    args: list[str],
    stdin: Optional[IO[bytes]],
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str],
) -> int:
    """The action `args` names, its output on `out`; its exit code."""
    try:
        if len(args) == 1 and args[0] in ("--version", "-v", "version"):
            out.write(protocol.render_version(__version__, DISTRIBUTION, NAME))
            return 0
        if len(args) == 1 and args[0] in ("--help", "-h", "help"):
            out.write(HELP)
            return 0
        if args and args[0] == "registries":
            from docker_credential_convox.registries import main as registries_main

            return registries_main(args[1:], out, err, env)
        if args and args[0] == "kubelet":
            from docker_credential_convox.kubelet import main as kubelet_main

            return kubelet_main(args[1:], stdin or sys.stdin.buffer, out, err, env)
        if len(args) != 1:  # the Go helpers' usage line on stdout; where to go next on stderr
            out.write(protocol.usage(NAME) + "\n")
            err.write(
                f"Run `{NAME} --help` for details, or `{NAME} registries --help` to add "
                "registries by hand.\n"
            )
            return 1
        action = args[0]
        if action not in protocol.ACTIONS:
            raise BadRequest(
                f"Unknown credential action `{action}`",
                hint=f"{protocol.usage(NAME)}\nRun `{NAME} --help` for details.",
            )
        _run_action(action, stdin or sys.stdin.buffer, out, env, err)
        out.flush()
        return 0
    except HelperError as exc:
        _write_reply(out, _utf8(exc.message + "\n"))
        if exc.hint:
            err.write(exc.hint.rstrip("\n") + "\n")
        return 1
    except KeyboardInterrupt:
        err.write(f"{NAME}: interrupted\n")
        return 130
    except BrokenPipeError:  # the client went away; nothing more to say
        return 1
    except Exception as exc:
        report_internal_error(exc, NAME, _debug_enabled(env), out, err)
        return 1
    finally:
        try:  # noqa: SIM105 - contextlib is not worth importing on the hot path for this
            out.flush()
        except (OSError, ValueError):
            pass
