"""What a wall screen shows, as one JSON snapshot built from the stored events.

The screen re-reads this whole snapshot on every change and on every reconnect, so a screen that
missed messages (server restart, Wi-Fi blip) is right again the moment it is back. Times the screen
counts with (rest timer) are the server's receive times, with `server_now` so the browser can
correct for its own clock.
"""

from __future__ import annotations

from server.store import Station, Store, StoredEvent

# Tiles on the screen: the member's current set plus enough history to read from across the room.
MAX_TILES = 15
# A person's session is tens of events (the guide's 2-3 sets of 10-15 reps, a hold or two); reading
# only the newest this many keeps every push cheap even if a faulty station floods one session.
MAX_SESSION_EVENTS = 500
# After the member leaves, their summary stays up this long before the idle screen returns.
SUMMARY_AFTER_LEAVING_S = 30.0


def _rep(e: StoredEvent) -> dict:
    b = e.body
    return {k: b[k] for k in ("rep_index", "set_index", "variant", "descent_s", "top_angle_deg",
                              "bottom_angle_deg", "min_knee_angle_deg", "faults", "score", "cue",
                              "end_range_deg")} | {
        # Events from stations older than the back measurement have no lift.
        "back_lift_cm": b.get("back_lift_cm"), "back_onset_deg": b.get("back_onset_deg"),
        "received_at": e.received_at}


def _session_view(events: list[StoredEvent]) -> dict:
    reps = [_rep(e) for e in events if e.type == "rep"]
    sets = {e.body["set_index"]: e.body for e in events if e.type == "set"}
    current_set = reps[-1]["set_index"] if reps else None
    set_reps = [r for r in reps if r["set_index"] == current_set]
    end_range = next((r["end_range_deg"] for r in reversed(reps) if r["end_range_deg"] is not None), None)
    closed = sets.get(current_set) if current_set is not None else None
    return {
        "set_index": current_set,
        "set_closed": closed is not None,
        "set_rep_count": len(set_reps),
        "set_mean_score": round(sum(r["score"] for r in set_reps) / len(set_reps), 1) if set_reps else None,
        "sets_done": len(sets),
        "rep_count": len(reps),
        "reps": set_reps[-MAX_TILES:],
        "last_rep": reps[-1] if reps else None,
        "last_rep_received_at": reps[-1]["received_at"] if reps else None,
        "end_range_deg": end_range,
        "holds": [{"duration_s": e.body["duration_s"], "flat_share": e.body.get("flat_share")}
                  for e in events if e.type == "hold"],
    }


def wall_snapshot(store: Store, station: Station, now: float, rest_after_s: float) -> dict:
    mat = store.latest_event(station.id, "mat")
    last_rep = store.latest_event(station.id, "rep")
    mat_state = mat.body["state"] if mat else "empty"
    session_id = mat.session_id if mat and mat.session_id else None
    if session_id is None and last_rep is not None and (
            mat is None or last_rep.received_at >= mat.received_at
            or now - mat.received_at < SUMMARY_AFTER_LEAVING_S):
        # No one on the mat (or a station that sends no mat events): keep the last session up a while.
        session_id = last_rep.session_id
    session = None
    if session_id:
        session = _session_view(store.session_events(station.id, session_id, MAX_SESSION_EVENTS))

    if mat_state == "empty" and (session is None or session["last_rep"] is None
                                 or now - session["last_rep_received_at"] > SUMMARY_AFTER_LEAVING_S):
        mode = "idle"
    elif session is None or session["last_rep"] is None:
        mode = "ready"
    elif session["set_closed"] or now - session["last_rep_received_at"] >= rest_after_s:
        mode = "rest"
    else:
        mode = "set"
    return {
        "station": {"name": station.name},
        "server_now": now,
        "mode": mode,
        "mat": mat_state,
        "rest_after_s": rest_after_s,
        # The screen goes back to idle by itself this long after the last rep once the mat is empty
        # (no event arrives to push that change).
        "summary_after_leaving_s": SUMMARY_AFTER_LEAVING_S,
        "session": session,
    }
