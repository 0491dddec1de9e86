"""Server settings: pydantic, unknown keys refused, loadable from the `[server]` table of a TOML file."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SettingsError(Exception):
    pass


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database_url: str = "sqlite:///matcoach.db"
    host: str = "127.0.0.1"
    port: int = Field(8420, ge=0, le=65535)
    # A station whose last heartbeat is older than this shows as offline.
    offline_after_s: float = Field(30.0, gt=0)
    # Largest request body accepted; an event batch of 100 reps is ~60 KB.
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    login_ttl_s: float = Field(12 * 3600, gt=0)
    login_attempts: int = Field(5, ge=1)
    login_window_s: float = Field(300.0, gt=0)
    # Set when the status page is served over HTTPS (behind a reverse proxy), so the cookie is
    # never sent in clear; a gym LAN without TLS needs it off.
    secure_cookies: bool = False
    # scrypt cost for staff passwords (2**14 ≈ 50 ms); lower only in tests.
    password_cost: int = Field(2**14, ge=2**10)
    # The wall screen switches from "set" to "rest" after this long without a rep.
    rest_after_s: float = Field(8.0, gt=0)
    # A connection on which no request's headers arrive for this long, or whose request's body is still
    # arriving after it, is closed (server/connections.py).
    slow_client_timeout_s: float = Field(10.0, gt=0)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are believed.
    # Behind one, every client otherwise has the proxy's address, and the login throttle, which counts
    # failures per address, would lock all staff out for one guesser. Headers from anyone else are
    # ignored, so a forged one buys a guesser no fresh address.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


def load_settings(path: str | Path | None, **overrides: object) -> ServerSettings:
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text()).get("server", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read server settings {path}: {exc}") from exc
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerSettings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SettingsError(f"server settings: {where}: {first['msg']}") from exc
