"""Secret Service scenarios: keyring `get`, `get` of a registry not stored, `list` by size.

Our helper and Go's docker-credential-secretservice read the same private Secret Service
(gnome-keyring on a private bus), each item filed the way each helper files it.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.base import (
    HELPER,
    KEYRING_GET,
    NOT_FOUND,
    REGISTRY,
    REGISTRY_SECRET,
    REGISTRY_USERNAME,
    SERVICE_PREFIX,
    TARGETS,
    UNKNOWN_REGISTRY,
    Bench,
    Row,
    q,
    run,
    synthetic_registry,
    synthetic_username,
)
from bench.go_reference import seed_go
from bench.timing import Command

KEYRING_APPID = "Python keyring library"  # on every item the keyring library files
# The item keyring's Secret Service backend reads, fetched with secretstorage alone.
SECRETSTORAGE_GET = f"""\
import secretstorage
connection = secretstorage.dbus_init()
collection = secretstorage.get_default_collection(connection)
query = {{"service": {SERVICE_PREFIX + REGISTRY!r}, "username": {REGISTRY_USERNAME!r}}}
print(next(collection.search_items(query)).get_secret().decode())
"""


def keyring_get(bench: Bench) -> None:
    """`get` of a stored registry and of one nobody stored, beside the keyring floors and Go."""
    env = bench.home("keyring")
    credentials = json.dumps(
        {"ServerURL": REGISTRY, "Username": REGISTRY_USERNAME, "Secret": REGISTRY_SECRET}
    )
    run([str(HELPER), "store"], env, credentials)  # discovers the backend and pins it
    stdin = bench.stdin(REGISTRY)
    commands = [
        Command("convox get (keyring)", bench.helper("get", stdin), env, expect=REGISTRY_SECRET),
        Command("keyring floor", bench.python(KEYRING_GET), env, expect=REGISTRY_SECRET),
        Command(
            "secretstorage floor", bench.python(SECRETSTORAGE_GET), env, expect=REGISTRY_SECRET
        ),
    ]
    # podman runs every helper of registries.conf's `credential-helpers` on every pull:
    # `get` of a registry the helper does not know must stay cheap. Exit 1 is its answer.
    unknown = bench.stdin(UNKNOWN_REGISTRY)
    commands.append(
        Command(
            "convox get (not stored)",
            f"{bench.helper('get', unknown)}; [ $? -eq 1 ]",
            env,
            expect=NOT_FOUND,
        )
    )
    # Its floor, timed in the same rounds: a Python process that does nothing at all.
    commands.append(Command("python -c pass (beside not stored)", bench.python("pass"), env))
    if bench.go_secretservice:
        run([bench.go_secretservice, "store"], env, credentials)
        line = f"{q(bench.go_secretservice)} get < {q(stdin)}"
        commands.append(Command("secretservice get", line, env, expect=REGISTRY_SECRET))
        line = f"{q(bench.go_secretservice)} get < {q(unknown)}; [ $? -eq 1 ]"
        commands.append(Command("secretservice get (not stored)", line, env, expect=NOT_FOUND))
    ours, floor, secretstorage, not_stored, bare_python, *go = bench.timer.group(commands)
    bench.keyring_floor = bench.floor(
        "Python + keyring `get_password()`",
        floor,
        "`import keyring`, then `keyring.backends.SecretService.Keyring().get_password()`: "
        "the backend class loaded directly, no entry-point discovery",
    )
    bench.secretstorage_floor = bench.floor(
        "Python + secretstorage, no keyring",
        secretstorage,
        "the same item read with secretstorage alone (what keyring's backend calls): the "
        "least a Secret Service `get` costs in Python without the keyring library",
    )
    bench.rows.append(
        Row(
            "`get`, keyring registry",
            ours,
            go[0] if go else None,
            "secretservice",
            floor,
            "Python + keyring",
        )
    )
    bench.verdict("keyring", TARGETS["keyring"][0], ours, floor)
    bench.rows.append(
        Row(
            "`get`, registry not stored (podman asks every helper)",
            not_stored,
            go[1] if go else None,
            "secretservice",
            bare_python,
            "`python -c pass`",
        )
    )


def seed_ours(bench: Bench, total: int) -> None:
    """Secrets for our synthetic registries, filed as the keyring library files them."""
    items = []
    for i in range(bench.ours_items + 1, total):
        service = SERVICE_PREFIX + synthetic_registry(i)
        user = synthetic_username(i)
        attributes = {"service": service, "username": user, "application": KEYRING_APPID}
        items.append((f"Password for '{user}' on '{service}'", attributes, f"secret-{i}"))
    bench.secrets.add_items(items)
    bench.ours_items = max(bench.ours_items, total - 1)


def index_home(bench: Bench, size: int) -> dict[str, str]:
    """A home whose registry index lists `size` registries: ours first, then synthetic."""
    from docker_credential_convox.registry_index import FORMAT_VERSION, Entry
    from docker_credential_convox.server_keys import parse_server

    env = bench.home(f"stored-{size}")
    entries = {}
    for i in range(size):
        url = REGISTRY if i == 0 else synthetic_registry(i)
        key = parse_server(url).key
        user = REGISTRY_USERNAME if i == 0 else synthetic_username(i)
        entries[key] = Entry(key, url, user)  # a stored login
    document = {
        "version": FORMAT_VERSION,
        "registries": {key: entries[key].to_json() for key in sorted(entries)},
    }
    index = Path(bench.settings(env).index_path)
    index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    index.write_text(json.dumps(document, indent=2) + "\n")
    index.chmod(0o600)
    listed = json.loads(run([str(HELPER), "list"], env))
    if len(listed) != size:
        raise RuntimeError(f"`list` with {size} registries in the index printed {len(listed)}")
    return env


def lists(bench: Bench) -> None:
    """`list` with 1 to 1,000 registries stored, then `get` with the most stored."""
    biggest = bench.sizes[-1]
    seed_ours(bench, biggest)  # every "N stored" has N of our secrets in the keyring
    envs = {size: index_home(bench, size) for size in bench.sizes}
    commands = []
    for size, env in envs.items():
        index = bench.settings(env).index_path
        commands.append(Command(f"convox list ({size})", bench.helper("list"), env, None, REGISTRY))
        commands.append(
            Command(
                f"index-read floor ({size})",
                bench.python(f"import json\njson.load(open({index!r}))"),
                env,
            )
        )
    stats = iter(bench.timer.group(commands))
    ours_by_size = {}
    for size in bench.sizes:
        ours, floor = next(stats), next(stats)
        ours_by_size[size] = ours
        bench.floor(
            f"Python + `json.load()` of a {size:,}-registry index",
            floor,
            "the least a `list` can cost: the interpreter, `import json`, one read",
        )
        go = None
        if bench.go_secretservice:
            seed_go(bench, size)  # Go's list reads every item: time it with exactly `size`
            go = bench.timer.one(
                Command(
                    f"secretservice list ({size})",
                    f"{q(bench.go_secretservice)} list < /dev/null",
                    envs[size],
                    expect=REGISTRY,
                )
            )
        noun = "registry" if size == 1 else "registries"
        bench.rows.append(
            Row(
                f"`list`, {size:,} {noun} stored",
                ours,
                go,
                "secretservice",
                floor,
                "Python + json read",
            )
        )
    description = TARGETS["list"][0].format(n=f"{biggest:,}")
    bench.verdict("list", description, ours_by_size[biggest], ours_by_size[1])

    env, stdin = envs[biggest], bench.stdin(REGISTRY)
    commands = [
        Command(
            f"convox get (keyring, {biggest} stored)",
            bench.helper("get", stdin),
            env,
            expect=REGISTRY_SECRET,
        )
    ]
    if bench.go_secretservice:
        line = f"{q(bench.go_secretservice)} get < {q(stdin)}"
        commands.append(
            Command(f"secretservice get ({biggest} stored)", line, env, None, REGISTRY_SECRET)
        )
    ours_get, *go_get = bench.timer.group(commands)
    bench.rows.append(
        Row(
            f"`get`, keyring registry, {biggest:,} stored",
            ours_get,
            go_get[0] if go_get else None,
            "secretservice",
            bench.keyring_floor,
            "Python + keyring",
        )
    )
