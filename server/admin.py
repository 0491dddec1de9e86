"""Station and staff administration shared by the status page and `matcoach server` subcommands."""

from __future__ import annotations

import secrets

from server.auth import hash_password, issue_token, new_id
from server.store import Station, Store

MAX_NAME = 60


class AdminError(ValueError):
    pass


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise AdminError(f"a station name is 1–{MAX_NAME} characters")
    if not name.isprintable():
        raise AdminError("a station name has no control characters")
    return name


def add_station(store: Store, name: str, now: float) -> tuple[Station, str]:
    """A new station and its first token (returned once, never stored in clear)."""
    station = store.add_station(new_id("st"), clean_name(name), secrets.token_urlsafe(12), now)
    return station, new_token(store, station.id, now)


def new_token(store: Store, station_id: str, now: float) -> str:
    """Issue a token for the station; its previous token stops working at once."""
    issued = issue_token()
    if not store.set_token(station_id, issued.token_id, issued.token_hash, now):
        raise AdminError(f"no station {station_id!r}")
    return issued.token


def revoke_token(store: Store, station_id: str, now: float) -> None:
    if not store.set_token(station_id, None, None, now):
        raise AdminError(f"no station {station_id!r}")


def add_staff(store: Store, username: str, password: str, now: float, cost: int) -> None:
    username = username.strip()
    if not username or len(username) > 60 or not username.isprintable():
        raise AdminError("a staff username is 1–60 printable characters")
    if len(password) < 10:
        raise AdminError("a staff password is at least 10 characters")
    store.add_staff(username, hash_password(password, n=cost), now)
