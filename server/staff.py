"""Staff side: login, the station status page and its actions, and the history API.

Sessions are a random cookie (HttpOnly, SameSite=Strict) whose hash is stored server-side with the
login's CSRF token; every write checks that token and, when the browser sends one, the Origin.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from matcoach.wire import API_PREFIX, MatRegion, StationConfig
from server import admin
from server.auth import hash_secret, verify_password
from server.services import SOFTWARE_VERSION, Services, push_wall, services, templates
from server.store import Login, Station, StoredEvent

router = APIRouter(tags=["staff"])
COOKIE = "mc_staff"
ServicesDep = Annotated[Services, Depends(services)]


def _login(request: Request, svc: Services) -> Login | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    return svc.store.login(hash_secret(cookie), svc.clock())


def staff_login(request: Request, svc: ServicesDep) -> Login:
    login = _login(request, svc)
    if login is None:
        raise HTTPException(401, "staff login required")
    return login


def _same_origin(request: Request, svc: Services, origin: str) -> bool:
    host = request.headers.get("host", "")
    allowed = {f"{request.url.scheme}://{host}"}
    if svc.settings.secure_cookies:
        # Served over HTTPS by a reverse proxy: unless it is one of `trusted_proxies`, the app itself
        # sees plain http, while the browser's Origin says https.
        allowed.add(f"https://{host}")
    return origin in allowed


def checked_write(request: Request, svc: ServicesDep, login: Annotated[Login, Depends(staff_login)],
                  csrf: Annotated[str, Form(max_length=200)] = "") -> Login:
    """A state-changing staff request: the login's CSRF token must come with the form."""
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(request, svc, origin):
        raise HTTPException(403, "cross-site request refused")
    if not hmac.compare_digest(csrf.encode(), login.csrf.encode()):
        raise HTTPException(403, "missing or stale form token; reload the page")
    return login


StaffDep = Annotated[Login, Depends(staff_login)]
WriteDep = Annotated[Login, Depends(checked_write)]


def _today_start(now: float) -> float:
    return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def station_status(svc: Services, station: Station, now: float) -> dict:
    beat = station.heartbeat or {}
    reg = station.registration or {}
    age = now - station.heartbeat_at if station.heartbeat_at is not None else None
    return {
        "id": station.id,
        "name": station.name,
        "wall_url": f"/wall/{station.wall_key}",
        "online": age is not None and age <= svc.settings.offline_after_s,
        "last_heartbeat_at": station.heartbeat_at,
        "heartbeat_age_s": round(age, 1) if age is not None else None,
        "fps": beat.get("fps"),
        "cpu_temp_c": beat.get("cpu_temp_c"),
        "load_1m": beat.get("load_1m"),
        "camera": beat.get("camera"),
        "software_version": beat.get("software_version") or reg.get("software_version"),
        "model_versions": beat.get("model_versions") or reg.get("model_versions") or {},
        "backlog": beat.get("backlog"),
        "last_error": beat.get("last_error"),
        "hostname": reg.get("hostname"),
        "reps_today": svc.store.count_events("rep", station.id, _today_start(now)),
        "token_active": station.token_id is not None,
        "mat_region": list(station.mat_region) if station.mat_region else None,
    }


# --- login ----------------------------------------------------------------------------------------

@router.get("/staff/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/staff/login", response_class=HTMLResponse, include_in_schema=False)
def login(request: Request, svc: ServicesDep,
          username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=500)]
          ) -> Response:
    now = svc.clock()
    keys = [f"ip:{request.client.host if request.client else '?'}", f"user:{username.lower()}"]
    wait = svc.throttle.retry_after(keys, now)
    if wait > 0:
        return templates.TemplateResponse(
            request, "login.html", {"error": f"Too many failed logins. Try again in {int(wait) + 1} s."},
            status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    if not verify_password(password, svc.store.staff_password_hash(username), svc.settings.password_cost):
        svc.throttle.failed(keys, now)
        return templates.TemplateResponse(request, "login.html", {"error": "Wrong username or password."},
                                          status_code=401)
    # Only the account's own count is cleared: a colleague logging in from the same address must
    # not wipe the failures of someone guessing other accounts from it.
    svc.throttle.succeeded(keys[1:])
    svc.store.purge_logins(now)
    cookie = secrets.token_urlsafe(32)
    svc.store.add_login(hash_secret(cookie), username, secrets.token_urlsafe(32),
                        now + svc.settings.login_ttl_s)
    response = RedirectResponse("/staff", status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=int(svc.settings.login_ttl_s), httponly=True,
                        samesite="strict", secure=svc.settings.secure_cookies, path="/")
    return response


@router.post("/staff/logout", include_in_schema=False)
def logout(request: Request, svc: ServicesDep, _: WriteDep) -> Response:
    svc.store.end_login(hash_secret(request.cookies.get(COOKIE, "")))
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- status page ----------------------------------------------------------------------------------

def _page(request: Request, svc: Services, login: Login, status_code: int = 200,
          **extra: object) -> HTMLResponse:
    now = svc.clock()
    rows = [station_status(svc, s, now) for s in svc.store.stations()]
    return templates.TemplateResponse(request, "status.html", {
        "stations": rows, "login": login, "version": SOFTWARE_VERSION,
        "offline_after_s": svc.settings.offline_after_s, **extra}, status_code=status_code)


@router.get("/staff", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, svc: ServicesDep) -> Response:
    login = _login(request, svc)
    if login is None:
        return RedirectResponse("/staff/login", status_code=303)
    return _page(request, svc, login)


@router.get("/staff/api/stations", responses={401: {"description": "staff login required"}})
def stations_json(svc: ServicesDep, _: StaffDep) -> list[dict]:
    now = svc.clock()
    return [station_status(svc, s, now) for s in svc.store.stations()]


def _existing(svc: Services, station_id: str) -> Station:
    station = svc.store.station(station_id)
    if station is None:
        raise HTTPException(404, "no such station")
    return station


@router.post("/staff/stations", response_class=HTMLResponse, include_in_schema=False)
def add_station(request: Request, svc: ServicesDep, login: WriteDep,
                name: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        station, token = admin.add_station(svc.store, name, svc.clock())
    except admin.AdminError as exc:
        return _page(request, svc, login, status_code=422, error=str(exc))
    return _page(request, svc, login, new_token={"station": station.name, "token": token})


@router.post("/staff/stations/{station_id}/name", response_class=HTMLResponse, include_in_schema=False)
async def rename(station_id: str, request: Request, svc: ServicesDep, login: WriteDep,
                 name: Annotated[str, Form(max_length=200)]) -> Response:
    _existing(svc, station_id)
    try:
        svc.store.rename(station_id, admin.clean_name(name))
    except admin.AdminError as exc:
        return _page(request, svc, login, status_code=422, error=str(exc))
    await push_wall(svc, station_id)
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/stations/{station_id}/mat-region", response_class=HTMLResponse, include_in_schema=False)
def set_mat_region(station_id: str, request: Request, svc: ServicesDep, login: WriteDep,
                   region: Annotated[str, Form(max_length=200)] = "") -> Response:
    """`x1,y1,x2,y2` in image pixels, or empty to go back to estimating it from the member."""
    _existing(svc, station_id)
    value: MatRegion | None = None
    if region.strip():
        try:
            parts = tuple(float(p) for p in region.replace(" ", "").split(","))
            value = StationConfig(station_id=station_id, name="-", mat_region=list(parts)).mat_region
        except (ValueError, ValidationError):
            value = None
            error = "The mat region is four numbers x1,y1,x2,y2 in image pixels, from 0 to 10000."
        else:
            error = "The mat region needs x1 < x2 and y1 < y2."
        if value is None or value[0] >= value[2] or value[1] >= value[3]:
            return _page(request, svc, login, status_code=422, error=error)
    svc.store.set_mat_region(station_id, value)
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/stations/{station_id}/token", response_class=HTMLResponse, include_in_schema=False)
def reissue_token(station_id: str, request: Request, svc: ServicesDep, login: WriteDep) -> Response:
    station = _existing(svc, station_id)
    token = admin.new_token(svc.store, station_id, svc.clock())
    return _page(request, svc, login, new_token={"station": station.name, "token": token})


@router.post("/staff/stations/{station_id}/token/revoke", include_in_schema=False)
def revoke(station_id: str, svc: ServicesDep, _: WriteDep) -> Response:
    _existing(svc, station_id)
    admin.revoke_token(svc.store, station_id, svc.clock())
    return RedirectResponse("/staff", status_code=303)


# --- history --------------------------------------------------------------------------------------

HISTORY_COLUMNS = {
    "reps": ["at", "session_id", "set_index", "rep_index", "variant", "score", "faults", "cue", "descent_s",
             "ascent_s", "bottom_pause_s", "top_angle_deg", "bottom_angle_deg", "min_knee_angle_deg",
             "end_range_deg"],
    "sets": ["at", "session_id", "set_index", "variant", "rep_count", "mean_score", "end_range_deg"],
    "holds": ["at", "session_id", "variant", "duration_s", "flat_share"],
}
MAX_HISTORY = 10_000
_KIND_TYPE = {"reps": "rep", "sets": "set", "holds": "hold"}


def _row(e: StoredEvent) -> dict:
    body = {k: v for k, v in e.body.items() if k != "type"}
    return body | {"station_id": e.station_id, "received_at": e.received_at}


def _csv_cell(value: object) -> str:
    if isinstance(value, list):
        value = ";".join(map(str, value))
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet
    # (OWASP's list: tab and carriage return too.)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@router.get(API_PREFIX + "/history/{station_id}/{kind}",
            responses={200: {"content": {"text/csv": {}}}, 401: {"description": "staff login required"},
                       404: {"description": "no such station"}})
def history(station_id: str, kind: Literal["reps", "sets", "holds"], svc: ServicesDep, _: StaffDep,
            since: Annotated[float | None, Query(ge=0, le=1e10, description="Unix seconds")] = None,
            until: Annotated[float | None, Query(ge=0, le=1e10)] = None,
            format: Annotated[Literal["json", "csv"], Query()] = "json",
            limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = MAX_HISTORY) -> Response:
    """Oldest first. When more than `limit` match, the answer says `truncated` (JSON) or carries
    `X-Truncated: true` (CSV): ask again with `since` set to the last row's `at`."""
    _existing(svc, station_id)
    rows = [_row(e) for e in svc.store.events(station_id, _KIND_TYPE[kind], since, until, limit + 1)]
    truncated = len(rows) > limit
    rows = rows[:limit]
    if format == "json":
        return Response(json.dumps({"items": rows, "count": len(rows), "truncated": truncated}),
                        media_type="application/json")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HISTORY_COLUMNS[kind])
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in HISTORY_COLUMNS[kind]])
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{station_id}-{kind}.csv"',
        "X-Truncated": "true" if truncated else "false"})
