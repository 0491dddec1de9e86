"""The station ↔ server wire format: the one definition both sides import.

Every model forbids unknown fields and bounds every number, so a hostile or broken body is refused
at the door with a 422 that names the field, before anything is stored. Events carry a station-made
id: the server stores each id once, so a station may resend an event as often as it likes.

Times: `at` fields are wall-clock Unix seconds on the station; `start_t`/`end_t` inside a rep are
seconds on the station's pipeline clock (the camera or trace clock), as in `matcoach analyze`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints

API_PREFIX = "/api/v1"

VARIANTS = ("double_leg", "single_leg", "heel_tap", "hanging", "hollow_hold")
FAULTS = ("back_arched", "fast_descent", "momentum", "knees_bent", "short_top")

Variant = Literal["double_leg", "single_leg", "heel_tap", "hanging", "hollow_hold"]
Fault = Literal["back_arched", "fast_descent", "momentum", "knees_bent", "short_top"]
MatState = Literal["empty", "on_mat", "lying", "hanging"]
CameraState = Literal["ok", "reopening", "missing", "replay", "stopped"]

# Station-made ids: UUIDs or similar; limited so a key can't be used to smuggle data.
EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,64}$")]
SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ShortText = Annotated[str, StringConstraints(max_length=120)]
# Wall clock, 2001-09-09 .. 2286-11-20: anything outside is a broken station clock.


def _not_bool_or_text(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number")
    return value


# Numbers are strict: true or "12" is not a number, whatever lax Python would make of it (a whole
# number may still be written 3.0, as JSON Schema allows).
Number = Annotated[float, Strict()]
WHOLE = BeforeValidator(_not_bool_or_text)  # goes after the bounds, so the schema keeps them
WallTime = Annotated[Number, Field(ge=1e9, le=1e10)]
Seconds = Annotated[Number, Field(ge=0, le=86_400)]
StreamTime = Annotated[Number, Field(ge=0, le=10 * 365 * 86_400)]
Angle = Annotated[Number, Field(ge=-360, le=360)]
Count = Annotated[int, Field(ge=0, le=1_000_000), WHOLE]
Index = Annotated[int, Field(ge=1, le=1_000_000), WHOLE]


def _type_required(schema: dict) -> None:
    # An event's `type` has a default for the Python side, but on the wire it is the discriminator
    # and must be sent, so the published schema says so.
    if "type" in schema.get("properties", {}) and "type" not in schema.setdefault("required", []):
        schema["required"].insert(0, "type")


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True,
                              json_schema_extra=_type_required)


class RepEvent(Wire):
    """A scored rep, sent the moment the member finishes it."""

    type: Literal["rep"] = "rep"
    id: EventId
    at: WallTime
    session_id: SessionId
    set_index: Index
    rep_index: Index  # within the member's session
    variant: Variant
    start_t: StreamTime
    end_t: StreamTime
    descent_s: Seconds
    ascent_s: Seconds
    bottom_pause_s: Seconds
    top_angle_deg: Angle
    bottom_angle_deg: Angle
    min_knee_angle_deg: Angle
    faults: Annotated[list[Fault], Field(max_length=len(FAULTS))]
    score: Annotated[int, Field(ge=0, le=100), WHOLE]
    cue: ShortText
    # The member's personal end range so far (lowest elevation reached with a flat back).
    end_range_deg: Angle | None = None
    # The back-lift evidence: lift over the member's flat back at the bottom, and the leg elevation
    # where it began; None when the station could not see the lower back.
    back_lift_cm: Annotated[Number, Field(ge=-50, le=50)] | None = None
    back_onset_deg: Angle | None = None


class SetEvent(Wire):
    """A set closed: the member rested long enough or got up."""

    type: Literal["set"] = "set"
    id: EventId
    at: WallTime
    session_id: SessionId
    set_index: Index
    variant: Variant
    rep_count: Count
    mean_score: Annotated[Number, Field(ge=0, le=100)]
    end_range_deg: Angle | None = None


class HoldEvent(Wire):
    """A finished hollow-body hold."""

    type: Literal["hold"] = "hold"
    id: EventId
    at: WallTime
    session_id: SessionId
    variant: Variant
    duration_s: Seconds
    # Share of the held seconds with the back flat, when the station can see it.
    flat_share: Annotated[Number, Field(ge=0, le=1)] | None = None


class MatEvent(Wire):
    """Who is on the mat changed: drives the wall screen's idle / active states."""

    type: Literal["mat"] = "mat"
    id: EventId
    at: WallTime
    session_id: SessionId | None = None
    state: MatState


Event = Annotated[RepEvent | SetEvent | HoldEvent | MatEvent, Field(discriminator="type")]
MAX_BATCH = 100


class EventBatch(Wire):
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_BATCH)]


class EventResult(Wire):
    id: str
    status: Literal["stored", "duplicate"]


class BatchResult(Wire):
    results: list[EventResult]


class Heartbeat(Wire):
    at: WallTime
    fps: Annotated[Number, Field(ge=0, le=1000)]
    cpu_temp_c: Annotated[Number, Field(ge=-50, le=150)] | None = None
    load_1m: Annotated[Number, Field(ge=0, le=1000)] | None = None
    camera: CameraState
    software_version: ShortText
    model_versions: Annotated[dict[ShortText, ShortText], Field(max_length=8)] = {}
    backlog: Count
    last_error: Annotated[str, StringConstraints(max_length=500)] | None = None


class Registration(Wire):
    """Sent by a station when it starts: who it is and what it runs."""

    hostname: ShortText
    software_version: ShortText
    model_versions: Annotated[dict[ShortText, ShortText], Field(max_length=8)] = {}
    width: Annotated[int, Field(ge=1, le=10_000), WHOLE] | None = None
    height: Annotated[int, Field(ge=1, le=10_000), WHOLE] | None = None


# x1, y1, x2, y2 in image pixels. A list of four rather than a tuple: a tuple's JSON schema
# (positional items) is not valid OpenAPI 3.1 as FastAPI emits it.
MatRegion = Annotated[list[Annotated[Number, Field(ge=0, le=10_000)]], Field(min_length=4, max_length=4)]


class StationConfig(Wire):
    """What the server tells a station about itself, in reply to registration and heartbeats."""

    station_id: str
    name: str
    mat_region: MatRegion | None = None
