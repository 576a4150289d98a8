"""Bearer tokens of the HTTP API: created once, stored hashed, checked in constant time.

A token is ``fft_<prefix>_<secret>`` (``prefix``: 8 hex digits that find its row;
``secret``: 32 random bytes, URL-safe base64). Only its SHA-256 hash (with a 16-byte salt
per token) is stored, so a copy of the store does not give anyone the API. A fast hash is
the right one here: the secret has 256 random bits, so there is nothing for a slow
password KDF to protect, and scrypt (~16 MB and 50-300 ms per check) on every request
would be a denial of service any client could trigger with well-formed tokens. The hash
is compared with :func:`hmac.compare_digest`. A revoked token keeps its row (when it was
created and revoked) and no longer opens anything.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from fluxfleet.store.base import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_TOKEN = re.compile(r"^fft_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


class TokenError(ValueError):
    """A token name or operation the store refuses; ``option`` names the argument."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


@dataclass(frozen=True)
class TokenInfo:
    """A stored token without its secret (times in ms since the epoch, UTC)."""

    name: str
    prefix: str
    created_ms: int
    revoked_ms: int | None


def _hash(token: str, salt: bytes) -> str:
    return hashlib.sha256(salt + token.encode()).hexdigest()


def check_name(name: str) -> str:
    """``name`` if it is 1-64 of ``[A-Za-z0-9_.@-]`` starting with a letter or digit."""
    if not NAME.fullmatch(name):
        raise TokenError(
            "NAME", f"a token name is 1-64 of A-Z a-z 0-9 _ . @ - (first a letter or digit), "
            f"got {name!r}"
        )  # fmt: skip
    return name


def create(store: Store, name: str, now_ms: int) -> str:
    """A new token called ``name`` (stored hashed); returns the token, shown only once.

    A revoked token's name may be used again (the row is replaced); an active one's not.
    """
    check_name(name)
    prefix = secrets.token_hex(4)
    token = f"fft_{prefix}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_bytes(16)
    row = [name, prefix, salt.hex(), _hash(token, salt), now_ms]
    existing = store.execute([("SELECT revoked_ms FROM api_tokens WHERE name = ?", [name])])
    if existing and existing[0][0] is None:
        raise TokenError("NAME", f"a token called {name!r} exists: revoke it first")
    store.execute(
        [
            ("DELETE FROM api_tokens WHERE name = ? AND revoked_ms IS NOT NULL", [name]),
            (
                "INSERT INTO api_tokens (name, prefix, salt, hash, created_ms, revoked_ms) "
                "VALUES (?, ?, ?, ?, ?, NULL)",
                row,
            ),
        ]
    )
    return token


def revoke(store: Store, name: str, now_ms: int) -> bool:
    """Revoke token ``name``; False if there is no active token of that name."""
    check_name(name)
    rows = store.execute(
        [
            (
                "UPDATE api_tokens SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL "
                "RETURNING name",
                [now_ms, name],
            )
        ]
    )
    return bool(rows)


def listing(store: Store) -> list[TokenInfo]:
    """Every token (revoked ones too), by name; never their secrets or hashes."""
    rows = store.execute(
        [("SELECT name, prefix, created_ms, revoked_ms FROM api_tokens ORDER BY name", [])]
    )
    return [TokenInfo(str(n), str(p), int(c), None if r is None else int(r)) for n, p, c, r in rows]


def verify(store: Store, token: str) -> str | None:
    """The name of the active token ``token``, or None (unknown, malformed or revoked)."""
    m = _TOKEN.fullmatch(token)
    if m is None:
        return None
    rows = store.execute(
        [("SELECT name, salt, hash FROM api_tokens WHERE prefix = ? AND revoked_ms IS NULL",
          [m.group(1)])]
    )  # fmt: skip
    if not rows:
        _hash(token, b"\0" * 16)  # the same work as for a known prefix
        return None
    name, salt, stored = rows[0]
    if hmac.compare_digest(_hash(token, bytes.fromhex(str(salt))), str(stored)):
        return str(name)
    return None
