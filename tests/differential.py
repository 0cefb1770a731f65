"""A differential harness: the same requests to our helper and to Go's secretservice helper.

A case is a list of steps (argv after the program name, and stdin bytes). Every case runs on
both helpers, each in a fresh HOME of its own, against ONE real Secret Service (the tests'
session one, or a private one from `main`). Each step's stdout bytes and exit code are compared
as `cmp` would; stderr too whenever the Go helper succeeded (a reply has nothing on stderr on
either side). After a failure stderr is not compared: the Go helpers print nothing there, ours
prints its hints there by design (clients show stderr to the user and never parse it).

Keeping the two comparable: the Go helper's `list` shows every item of its schema on the
Secret Service (`xdg:schema` io.docker.Credentials, label "Docker Credentials"), whoever stored
it, and its `erase` cannot reach some of what its `store` kept (a ServerURL with spaces around
it: `erase` trims, `store` does not). So before every case the harness deletes the Go schema's
items straight through the Secret Service; both sides then start each case from nothing. Our
helper's keyring items of earlier cases stay, but a fresh HOME has a fresh registry index, and
every `get`, `erase` and `list` of ours goes through the index first, so they are unreachable.

Differences we keep on purpose are listed, each with its reason, in KEPT (the one place to
update; docs/differences.md is the same list for users); those another
branch of issue 18 removes, in PENDING. A case's steps are named `ACTION STDIN`, with `#2`, `#3`
for a repeat within the case, and a difference as `CASE | STEP`.

Run over any list of server URLs (one per line), against a private Secret Service:
    scripts/isolated.sh .venv/bin/python tests/differential.py FILE...
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # the support package, when run as a script
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # standins

from support import HELPER, hermetic_env

from docker_credential_convox import protocol

GO_HELPER = "docker-credential-secretservice"
GO_SCHEMA = "io.docker.Credentials"
ROOT = Path(__file__).resolve().parent.parent
NOT_FOUND = b"credentials not found in native keychain\n"

# The login every spelling case stores: every character Go's encoder treats specially.
USERNAME = 'alice <&> "é" \\ 中'
SECRET = 'pw "quoted" \\ <>& é中 \u2028\u2029 \x01\x7f 😀'
HUB = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Step:
    """One run of a helper: argv after the program name, and stdin."""

    args: tuple[str, ...]
    stdin: bytes = b""
    name: str = ""  # the label, when stdin is too long to be one

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        text = self.stdin.decode("utf-8", "backslashreplace")
        return f"{' '.join(self.args)} {text}".rstrip() if self.stdin else " ".join(self.args)


@dataclass(frozen=True)
class Case:
    """A named sequence of steps, run from an empty store on both sides."""

    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Outcome:
    """What one helper did for one step."""

    code: int
    stdout: bytes
    stderr: bytes

    def same_as(self, go: Outcome) -> bool:
        """cmp of stdout and the exit code; stderr too when Go succeeded."""
        if (self.code, self.stdout) != (go.code, go.stdout):
            return False
        return go.code != 0 or self.stderr == go.stderr


@dataclass(frozen=True)
class Difference:
    """A step whose outcomes differ."""

    case: str
    step: str
    go: Outcome
    ours: Outcome

    @property
    def where(self) -> str:
        return f"{self.case} | {self.step}"

    def describe(self) -> str:
        return (
            f"{self.where}\n    go:   {self.go.code} {self.go.stdout!r} {self.go.stderr!r}"
            f"\n    ours: {self.ours.code} {self.ours.stdout!r} {self.ours.stderr!r}"
        )


@dataclass
class Report:
    """Every step run, and the differences among them."""

    steps: int = 0
    cases: int = 0
    differences: list[Difference] = field(default_factory=list)


# -- building cases ------------------------------------------------------------------------


def store(server_url: str, username: str = USERNAME, secret: str = SECRET) -> Step:
    """A store request as Docker writes it (Go's encoder, then a newline)."""
    request = protocol.go_object(
        (("ServerURL", server_url), ("Username", username), ("Secret", secret))
    )
    return Step(("store",), (request + "\n").encode("utf-8"), f"store {server_url}")


def get(server_url: str) -> Step:
    return Step(("get",), server_url.encode("utf-8"))


def erase(server_url: str) -> Step:
    return Step(("erase",), server_url.encode("utf-8"))


LIST = Step(("list",), b"unused")


def spelling_case(name: str, sent: str, also: Sequence[str] = ()) -> Case:
    """Store `sent`; get it and the other spellings `also`; list; erase each of `also`, list;
    erase `sent`, list."""
    steps = [store(sent), get(sent), *map(get, also), LIST]
    steps += [*map(erase, also), LIST] if also else []
    return Case(name, (*steps, erase(sent), LIST))


def entries_case(name: str, entries: Sequence[tuple[str, str, str]], unknown: str = "") -> Case:
    """Store each (server, username, secret); get each (and `unknown`); list; erase each; list."""
    steps = [store(*entry) for entry in entries]
    steps += [get(server) for server, _, _ in entries]
    steps += [get(unknown), LIST] if unknown else [LIST]
    steps += [erase(server) for server, _, _ in entries] + [LIST]
    return Case(name, tuple(steps))


def readme_key_table(readme: Path = ROOT / "docs" / "keys.md") -> list[tuple[str, str]]:
    """(the client sends, key) of every row of the key tables in docs/keys.md."""
    rows = []
    inside = False
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("| the client sends | key |"):
            inside = True
        elif inside and line.startswith("| `"):
            sent, key = (cell.strip().strip("`") for cell in line.strip("|").split("|"))
            rows.append((sent, key))
        elif not line.startswith("|---"):
            inside = False
    return rows


def key_table_cases() -> list[Case]:
    """Each spelling of docs/keys.md's key tables stored, then asked for as itself and as its key
    (an opaque key, `opaque TEXT`, is no spelling a client sends: asked for as itself only)."""
    cases = []
    for sent, key in readme_key_table():
        also = [] if key == sent or key.startswith("opaque ") else [key]
        cases.append(spelling_case(f"key table: {sent}", sent, also))
    return cases


def url_list_cases(urls: Iterable[str], prefix: str = "url") -> list[Case]:
    """A spelling case per server URL (for lists from a file)."""
    return [spelling_case(f"{prefix}: {url}", url) for url in urls]


HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", HUB)
HUB_TOKENS = (f"{HUB}access-token", f"{HUB}refresh-token")
# Keys Docker can send that servers.py could not parse before issue 18 item 2 (keys-doctor).
ODD_KEYS = (
    "::1",
    "::1:5000",
    "[::1]:5000",
    "münchen.example",
    "xn--mnchen-3ya.example",
    "-leading.example",
    "registry.example.com:99999",
    "registry.example.com:0",
    "registry.example.com:abc",
)


def protocol_cases() -> list[Case]:
    """The inputs of ../shared/reference/protocol.md, as real clients send them."""
    host = "127.0.0.1:5000"
    cases = [
        Case(
            "protocol: argv and empty requests",
            (
                Step((), name="(no argument)"),
                Step(("get", "extra")),
                Step(("bogus",)),
                Step(("get",)),
                Step(("erase",)),
                Step(("store",)),
                Step(("list",)),
                Step(("get",), b" \n"),
                get("unknown.invalid"),
                erase("unknown.invalid"),
                get("with space.example"),
                erase("with space.example"),
                get("tab\there.example"),
            ),
        ),
        Case(
            "protocol: store requests",
            (
                Step(("store",), b'{"ServerURL":"","Username":"u","Secret":"s"}'),
                Step(("store",), b'{"Username":"u","Secret":"s"}'),
                Step(("store",), b'{"ServerURL":"r.example","Username":"","Secret":"s"}'),
                Step(("store",), b'{"ServerURL":"r.example","Secret":"s"}'),
                Step(("store",), b"{}"),
                Step(("store",), b"not json"),
                Step(("store",), b'{"serverurl":"r.example","USERNAME":"u","sEcReT":"s","x":1}'),
                get("r.example"),
                store("empty-secret.example", "u", ""),
                get("empty-secret.example"),
                store("token.example", "<token>", "refresh-token-value"),
                get("token.example"),
                LIST,
                Step(("list",)),
            ),
        ),
        Case(
            "protocol: docker login, get, logout (credsStore)",
            (
                store(host, "bob", "b0b"),
                get(host),
                Step(("get",), f"{host}\n".encode()),
                get(f"http://{host}"),
                get(f"https://{host}/"),
                LIST,
                *(
                    erase(spelling)
                    for spelling in (host, host, f"http://{host}", f"https://{host}")
                ),
                LIST,
                get(host),
            ),
        ),
        Case(
            "protocol: requests Go keeps as they are",
            (
                store("  padded.example \n", "u", "s"),
                get("padded.example"),
                LIST,
                Step(("store",), b'{"ServerURL":"nul.example","Username":"u\\u0000v"}'),
                Step(
                    ("store",), b'{"ServerURL":"nul2.example","Username":"u","Secret":"s\\u0000"}'
                ),
                get("nul2.example"),
                Step(("store",), b'{"ServerURL":"bad.example","Username":"u\xff","Secret":"s"}'),
                Step(("store",), b'{"ServerURL":"sur.example","Username":"u","Secret":"\\ud800"}'),
                get("sur.example"),
                Step(("get",), b"big.example/" + b"a" * 70000, "get big.example/a...(70 KB)"),
                Step(("version",)),
            ),
        ),
        Case(
            "protocol: two spellings of one registry, a path below it",
            (
                store("registry.example.com", "first", "one"),
                store("https://registry.example.com/", "second", "two"),
                get("registry.example.com"),
                get("REGISTRY.EXAMPLE.COM"),
                get("registry.example.com/team/app"),
                LIST,
                erase("https://registry.example.com/"),
                LIST,
            ),
        ),
        Case(
            "protocol: docker web login's three Hub entries",
            (
                store(HUB, "hubuser", "pat"),
                store(HUB_TOKENS[0], "hubuser", "access"),
                store(HUB_TOKENS[1], "hubuser", "refresh..client"),
                *(get(server) for server in (HUB, *HUB_TOKENS, "docker.io")),
                LIST,
                get(HUB_TOKENS[1]),
                erase(HUB_TOKENS[0]),
                erase(HUB_TOKENS[1]),
                LIST,
                get(HUB),
                erase(HUB),
            ),
        ),
    ]
    cases += [
        spelling_case(
            f"protocol: Hub stored as {alias}", alias, [a for a in HUB_ALIASES if a != alias]
        )
        for alias in HUB_ALIASES
    ]
    cases += url_list_cases(ODD_KEYS, "odd key")
    return cases


# -- differences we keep on purpose ----------------------------------------------------------

# Why each difference is kept; the table in docs/differences.md ("Where we differ") says the
# same for users, one row each.
NORMALISED = "get finds a stored registry by any spelling of its key"
ERASED_BY_KEY = "erase of any spelling of the key erases the entry"
ONE_ENTRY = "a second spelling of a key replaces the entry; list shows it once"
PATH_PREFIX = "get of a path below a stored registry answers the registry's login"
HUB_LISTED = "list shows Docker Hub as https://index.docker.io/v1/, the key Docker looks up"
USERINFO = "a password in the URL is never kept, echoed or listed"
TRIMMED = "store trims the ServerURL, as get and erase do on both"
NUL = "a NUL is refused in a username and kept in a secret; Go cuts the string there"
BAD_UTF8 = "a request that is not UTF-8 is refused; Go stores U+FFFD in its place"
EMPTY_SECRET = "get answers an entry stored with an empty secret; Go answers not found"
ERROR_WORDS = "our own wording for a malformed or oversized request (exit 1 on both)"
OWN_NAME = "usage and version name docker-credential-convox"
ECR_STORE = "on an ECR host the username is AWS credentials, checked by minting a token"
# Pending: another branch of issue 18 removes these.
SURROGATE = "a lone surrogate escape fails the store (parse_credentials will store U+FFFD)"


def _steps(reason: str, case: str, *steps: str) -> dict[str, str]:
    return {f"{case} | {step}": reason for step in steps}


def _key_table(reason: str, step: str, *sent: str) -> dict[str, str]:
    return {f"key table: {spelling} | {step.format(spelling)}": reason for spelling in sent}


NORMALISED_ROWS = (
    "https://Registry.Example.com:443/",
    "http://registry.example.com:5000/v2/",
    "https://registry.example.com/v2/team-a/",
    "registry.example.com//Team-A//app/",
    "registry.example.com/team-a?tag=1#top",
    "registry.example.com/a/./b/../c",
    "registry.example.com/%7Eteam",
    "registry.example.com/café",
    "https://user:pw@registry.example.com/team-a",
    HUB,
    *HUB_TOKENS,
)
ECR_ROW = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ECR_PUBLIC_ROW = "https://public.ecr.aws/my-alias/app"
HUB_CASE = "protocol: Hub stored as {}"
KEPT_AS_SENT = "protocol: requests Go keeps as they are"
TWO_SPELLINGS = "protocol: two spellings of one registry, a path below it"

# "case | step" -> why, for the differences we keep on purpose (docs/differences.md, "Where we
# differ from the Go helpers"). Every difference the harness finds must be here or in PENDING,
# and every entry of both must still be a difference (test_differential.py checks both ways).
KEPT: dict[str, str] = {
    **{
        f"key table: {sent} | get {key}": NORMALISED
        for sent, key in (
            ("https://Registry.Example.com:443/", "registry.example.com"),
            ("http://registry.example.com:5000/v2/", "registry.example.com:5000"),
            ("https://registry.example.com/v2/team-a/", "registry.example.com/team-a"),
            ("registry.example.com//Team-A//app/", "registry.example.com/Team-A/app"),
            ("registry.example.com/team-a?tag=1#top", "registry.example.com/team-a"),
            ("registry.example.com/a/./b/../c", "registry.example.com/a/c"),
            ("registry.example.com/%7Eteam", "registry.example.com/~team"),
            ("registry.example.com/café", "registry.example.com/caf%C3%A9"),
            ("https://user:pw@registry.example.com/team-a", "registry.example.com/team-a"),
            (HUB, "docker.io"),
            (HUB_TOKENS[0], "docker.io/access-token"),
            (HUB_TOKENS[1], "docker.io/refresh-token"),
        )
    },
    **_key_table(ERASED_BY_KEY, "list unused #2", *NORMALISED_ROWS),
    **{
        f"{HUB_CASE.format(alias)} | get {other}": NORMALISED
        for alias in HUB_ALIASES
        for other in HUB_ALIASES
        if other != alias
    },
    **{f"{HUB_CASE.format(alias)} | list unused #2": ERASED_BY_KEY for alias in HUB_ALIASES},
    **{f"{HUB_CASE.format(alias)} | list unused": HUB_LISTED for alias in HUB_ALIASES[:3]},
    **_steps(
        NORMALISED,
        "protocol: docker login, get, logout (credsStore)",
        "get http://127.0.0.1:5000",
        "get https://127.0.0.1:5000/",
    ),
    **_steps(NORMALISED, "protocol: docker web login's three Hub entries", "get docker.io"),
    **_steps(NORMALISED, TWO_SPELLINGS, "get REGISTRY.EXAMPLE.COM"),
    **_steps(ONE_ENTRY, TWO_SPELLINGS, "get registry.example.com", "list unused"),
    **_steps(ERASED_BY_KEY, TWO_SPELLINGS, "list unused #2"),
    **_steps(PATH_PREFIX, TWO_SPELLINGS, "get registry.example.com/team/app"),
    **_steps(
        USERINFO,
        "key table: https://user:pw@registry.example.com/team-a",
        "get https://user:pw@registry.example.com/team-a",
        "list unused",
    ),
    **_steps(TRIMMED, KEPT_AS_SENT, "get padded.example", "list unused"),
    **_steps(NUL, KEPT_AS_SENT, 'store {"ServerURL":"nul.example","Username":"u\\u0000v"}'),
    **_steps(NUL, KEPT_AS_SENT, "get nul2.example"),
    **_steps(
        BAD_UTF8, KEPT_AS_SENT, 'store {"ServerURL":"bad.example","Username":"u\\xff","Secret":"s"}'
    ),
    **_steps(EMPTY_SECRET, "protocol: store requests", "get empty-secret.example"),
    **_steps(ERROR_WORDS, "protocol: argv and empty requests", "store"),
    **_steps(ERROR_WORDS, "protocol: store requests", "store not json"),
    **_steps(ERROR_WORDS, KEPT_AS_SENT, "get big.example/a...(70 KB)"),
    **_steps(OWN_NAME, "protocol: argv and empty requests", "(no argument)", "get extra"),
    **_steps(OWN_NAME, KEPT_AS_SENT, "version"),
    **_steps(
        ECR_STORE,
        f"key table: {ECR_ROW}/team/app",
        f"store {ECR_ROW}/team/app",
        f"get {ECR_ROW}/team/app",
        f"get {ECR_ROW}",
        "list unused",
        "list unused #2",
    ),
    **_steps(
        ECR_STORE,
        f"key table: {ECR_PUBLIC_ROW}",
        f"store {ECR_PUBLIC_ROW}",
        f"get {ECR_PUBLIC_ROW}",
        "list unused",
        "list unused #2",
    ),
    # keys-doctor's opaque keys (docs/keys.md): a password in the URL is not kept there either.
    **_steps(USERINFO, "key table: https://user:pw@::1", "get https://user:pw@::1", "list unused"),
    **_steps(
        USERINFO,
        "key table: https://user:p/w@münchen.example",
        "get https://user:p/w@münchen.example",
        "list unused",
    ),
}

# Differences other branches of issue 18 remove; once merged, `stale` names these: delete them.
PENDING: dict[str, str] = {
    # parse_credentials' surrogate handling: a lone surrogate escape stored as U+FFFD, as Go does.
    **_steps(
        SURROGATE,
        KEPT_AS_SENT,
        'store {"ServerURL":"sur.example","Username":"u","Secret":"\\ud800"}',
        "get sur.example",
    ),
}

EXPECTED = {**KEPT, **PENDING}


def unexpected(report: Report, expected: Mapping[str, str] = EXPECTED) -> list[Difference]:
    """The differences `expected` does not list."""
    return [difference for difference in report.differences if difference.where not in expected]


def stale(
    report: Report, cases: Sequence[Case], expected: Mapping[str, str] = EXPECTED
) -> list[str]:
    """Entries of `expected` for these cases that are no difference (any more)."""
    names = {case.name for case in cases}
    found = {difference.where for difference in report.differences}
    return [where for where in expected if where.split(" | ")[0] in names and where not in found]


# -- running -------------------------------------------------------------------------------


class Differential:
    """Runs cases on both helpers against one Secret Service, under `root`."""

    def __init__(self, bus_env: Mapping[str, str], root: Path, timeout: float = 60) -> None:
        go = shutil.which(GO_HELPER)
        if go is None:
            raise RuntimeError(f"{GO_HELPER} is missing: run `make test`, which installs it")
        self.go = go
        self.bus_env = dict(bus_env)
        self.root = root
        self.timeout = timeout
        self._homes = 0

    def _home(self) -> dict[str, str]:
        self._homes += 1
        home = self.root / f"home-{self._homes}"
        home.mkdir(parents=True)
        (home / ".docker").mkdir()
        return hermetic_env(home, self.bus_env)

    def _run(self, program: str, env: Mapping[str, str], step: Step) -> Outcome:
        result = subprocess.run(
            [program, *step.args],
            input=step.stdin,
            capture_output=True,
            env=dict(env),
            timeout=self.timeout,
            check=False,
        )
        return Outcome(result.returncode, result.stdout, result.stderr)

    def clear_go_items(self) -> None:
        """Delete every item of the Go helper's schema from the Secret Service."""
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        connection = open_dbus_connection(bus=self.bus_env["DBUS_SESSION_BUS_ADDRESS"])
        try:
            for item in secretstorage.search_items(connection, {"xdg:schema": GO_SCHEMA}):
                item.delete()
        finally:
            connection.close()

    def run_case(self, case: Case, report: Report) -> None:
        """Run `case` on both sides from nothing; record its differences in `report`."""
        self.clear_go_items()
        go_env, our_env = self._home(), self._home()
        seen: dict[str, int] = {}
        for step in case.steps:
            seen[step.label] = seen.get(step.label, 0) + 1
            label = step.label if seen[step.label] == 1 else f"{step.label} #{seen[step.label]}"
            go = self._run(self.go, go_env, step)
            ours = self._run(str(HELPER), our_env, step)
            report.steps += 1
            if not ours.same_as(go):
                report.differences.append(Difference(case.name, label, go, ours))
        report.cases += 1

    def run(self, cases: Iterable[Case], report: Optional[Report] = None) -> Report:
        report = report or Report()
        for case in cases:
            self.run_case(case, report)
        self.clear_go_items()
        return report


def main(argv: Sequence[str]) -> int:
    """Run the spelling case of every server URL in the files named (stdin without any), print
    each difference; exit 1 if any is not in EXPECTED."""
    from standins.secret_service import private_secret_service

    lines: list[str] = []
    for name in argv or ["-"]:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    cases = url_list_cases(lines)
    with private_secret_service() as service, tempfile.TemporaryDirectory() as root:
        report = Differential(service.env, Path(root)).run(cases)
    for difference in report.differences:
        reason = EXPECTED.get(difference.where, "NOT EXPECTED")
        print(f"{difference.describe()}\n    why:  {reason}")
    print(f"{report.cases} cases, {report.steps} steps, {len(report.differences)} differences")
    return 1 if unexpected(report) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
