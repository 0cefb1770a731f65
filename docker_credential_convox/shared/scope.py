"""A shared scope (`secretsmanager:PREFIX`) and the secret name of each registry in it.

Pure functions, no I/O: the name of a registry's secret derives from its canonical server key
(server_keys.py), so two spellings of one registry never make two secrets. Secrets Manager allows
`A-Za-z0-9/_+=.@-` in names; the key is encoded into that alphabet reversibly:

- `:` (a port, an IPv6 address) becomes `+`;
- `+`, `=` and every other character outside the alphabet become `=XX` per UTF-8 byte;
- a name that would end in `-` and six characters gets a final `=`, because ARNs append exactly
  that and partial-ARN lookups would take the name's tail for the random suffix.

`+` and `=` never stand for themselves, so the encoding is injective and `decode_key` inverts it.
"""

from __future__ import annotations

from docker_credential_convox import TYPE_CHECKING
from docker_credential_convox.errors import BadRequest

if TYPE_CHECKING:
    from typing import Optional

KIND_SECRETS_MANAGER = "secretsmanager"
NAME_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+=.@-")
# Kept as they are in an encoded key: the alphabet without the two characters that encode.
_PLAIN = NAME_ALPHABET - {"+", "="}
MAX_NAME_LENGTH = 512
# Leaves room for a key after the prefix (hosts are up to 253 characters, plus port and path).
MAX_PREFIX_LENGTH = 200
ARN_SUFFIX_LENGTH = 6  # the random characters an ARN appends after `-`
_HEX = "0123456789ABCDEF"


class Scope:
    """Where a fleet's shared registries live: a name prefix in Secrets Manager."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @property
    def text(self) -> str:
        """The scope as users write it (and `registries list` shows it)."""
        return f"{KIND_SECRETS_MANAGER}:{self.prefix}"

    def name_of(self, key: str) -> str:
        """The secret name of the registry `key`; BadRequest if it would be too long."""
        name = protect_tail(f"{self.prefix}/{encode_key(key)}")
        if len(name) > MAX_NAME_LENGTH:
            raise BadRequest(
                f"the shared secret name for {key} would be longer than {MAX_NAME_LENGTH} "
                "characters: use a shorter prefix"
            )
        return name

    def key_of(self, name: str) -> Optional[str]:
        """The registry key a secret name of this scope encodes, None for any other name."""
        head = self.prefix + "/"
        if not name.startswith(head):
            return None
        if name.endswith("="):  # only protect_tail ends a name in a lone `=`
            if protect_tail(name[:-1]) != name:
                return None
            name = name[:-1]
        return decode_key(name[len(head) :])

    def __repr__(self) -> str:
        return f"Scope({self.text!r})"


def parse_scope(text: str, origin: str) -> Scope:
    """The scope `text` names (`secretsmanager:PREFIX`); a one-line BadRequest naming `origin`
    (the setting it came from) otherwise."""
    kind, sep, prefix = text.strip().partition(":")
    example = f"{KIND_SECRETS_MANAGER}:docker-credential-convox/prod"
    if not sep or kind != KIND_SECRETS_MANAGER:
        raise BadRequest(f"{origin} must be {KIND_SECRETS_MANAGER}:PREFIX (e.g. {example})")
    prefix = prefix.strip().rstrip("/")
    if not prefix:
        raise BadRequest(
            f"{origin} names no prefix after `{KIND_SECRETS_MANAGER}:` (e.g. {example})"
        )
    bad = sorted({ch for ch in prefix if ch not in NAME_ALPHABET})
    if bad or "//" in prefix or prefix.startswith("/"):
        raise BadRequest(
            f"{origin}: the prefix may hold only letters, digits and /_+=.@- (no empty "
            f"segment); {''.join(bad)!r} is not allowed"
            if bad
            else f"{origin}: the prefix must not start with / or hold an empty segment"
        )
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise BadRequest(f"{origin}: the prefix is longer than {MAX_PREFIX_LENGTH} characters")
    return Scope(prefix)


def encode_key(key: str) -> str:
    """A canonical server key in Secrets Manager's name alphabet (see the module docstring)."""
    out: list[str] = []
    for ch in key:
        if ch in _PLAIN:
            out.append(ch)
        elif ch == ":":
            out.append("+")
        else:
            out.extend(f"={_HEX[byte >> 4]}{_HEX[byte & 15]}" for byte in ch.encode("utf-8"))
    return "".join(out)


def protect_tail(name: str) -> str:
    """`name`, with `=` appended if it ends in `-` and six characters (an ARN's suffix)."""
    if len(name) > ARN_SUFFIX_LENGTH and name[-ARN_SUFFIX_LENGTH - 1] == "-":
        return name + "="
    return name


def decode_key(encoded: str) -> Optional[str]:
    """The key `encode_key` made `encoded` from; None if it made none."""
    data = bytearray()
    i = 0
    while i < len(encoded):
        ch = encoded[i]
        if ch == "=":
            pair = encoded[i + 1 : i + 3]
            if len(pair) != 2 or any(c not in _HEX for c in pair):
                return None
            data.append(int(pair, 16))
            i += 3
            continue
        if ch not in _PLAIN and ch != "+":
            return None
        data.extend(b":" if ch == "+" else ch.encode("ascii"))
        i += 1
    try:
        key = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return key if encode_key(key) == encoded else None  # only the one spelling we write
