"""Secrets: station bearer tokens, staff passwords, login throttling.

A station token is `mcs_<token id>_<secret>`. Only sha256(secret) is stored: the secret is 256
random bits, so a fast hash is enough (nobody can guess it offline), while the token id finds the
row without comparing secrets in a data-dependent order. Staff passwords are chosen by people, so
they get a slow, salted KDF (scrypt) instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from server.store import Store

TOKEN_PREFIX = "mcs"

# scrypt cost: ~50 ms and 16 MiB per attempt on a 2-core x86; tests may lower n via settings.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


def new_id(prefix: str, nbytes: int = 6) -> str:
    return f"{prefix}-{secrets.token_hex(nbytes)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # shown once to the person setting up the station, never stored
    token_id: str
    token_hash: str


def issue_token() -> IssuedToken:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(f"{TOKEN_PREFIX}_{token_id}_{secret}", token_id, hash_secret(secret))


def split_token(token: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2] or len(token) > 200:
        return None
    return parts[1], parts[2]


def token_matches(secret: str, stored_hash: str | None) -> bool:
    # Hash even when there is no stored hash, so a revoked station answers as slowly as a live one.
    digest = hash_secret(secret)
    return hmac.compare_digest(digest, stored_hash or "0" * len(digest))


def hash_password(password: str, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str | None, cost: int = SCRYPT_N) -> bool:
    if stored is None:
        # Unknown user: spend the same time (at the configured cost), so response time doesn't
        # reveal which names exist.
        hash_password(password, n=cost)
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class LoginThrottle:
    """At most `attempts` failed logins per `window_s`, counted per client address and per username,
    so neither one guessing machine nor many machines guessing one account get far. The failures are
    kept in the store, so every server process sharing the database counts the same ones."""

    def __init__(self, store: Store, attempts: int, window_s: float) -> None:
        self.store = store
        self.attempts = attempts
        self.window_s = window_s

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until a login may be tried again for these keys; 0 if it may now."""
        wait = 0.0
        for count, oldest in self.store.login_failures(_stored(keys), now - self.window_s).values():
            if count >= self.attempts:
                wait = max(wait, oldest + self.window_s - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        self.store.add_login_failure(_stored(keys), now, forget_before=now - self.window_s)

    def succeeded(self, keys: list[str]) -> None:
        self.store.clear_login_failures(_stored(keys))


def _stored(keys: list[str]) -> list[str]:
    # A username is whatever a login form was sent; PostgreSQL text can't hold NUL.
    return [k.replace("\0", "\ufffd") for k in keys]
