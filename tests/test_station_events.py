"""A recorded session replayed through the analysis and the station's event maker, sent to the real
app around a real SQLite file: the server ends with exactly the reps, sets and holds of the analysis."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.analysis.analyzer import Analyzer
from edge.station.events import EventMaker
from edge.trace import read_trace
from matcoach.wire import MAX_BATCH, EventBatch, MatEvent, RepEvent
from server.app import create_app
from server.store import open_store
from tests.servers import provision, settings_for_tests

SAMPLE = Path(__file__).parent.parent / "samples" / "session.jsonl"


def replay(path: Path):
    header, frames = read_trace(path)
    analyzer = Analyzer.for_trace(header)
    t0 = 1_790_000_000.0
    clock_t = [t0]
    maker = EventMaker(clock=lambda: clock_t[0])
    wire = []
    for frame in frames:
        clock_t[0] = t0 + frame.t
        wire.extend(maker.after_frame(analyzer, analyzer.push(frame)))
    wire.extend(maker.after_frame(analyzer, analyzer.drain()))
    return analyzer.session.result(), wire


@pytest.fixture(scope="module")
def replayed():
    return replay(SAMPLE)


def test_the_wire_events_match_the_analysis(replayed):
    analysis, wire = replayed
    reps = [e for e in wire if isinstance(e, RepEvent)]
    assert len(reps) == len(analysis.reps) > 0
    assert [r.rep_index for r in reps] == list(range(1, len(reps) + 1))
    assert [r.set_index for r in reps] == [s["index"] for s in analysis.sets for _ in s["rep_indices"]]
    # The first event says someone is on the mat, and every rep belongs to that member's session.
    assert isinstance(wire[0], MatEvent) and wire[0].state != "empty"
    assert {r.session_id for r in reps} == {wire[0].session_id}
    assert len({e.id for e in wire}) == len(wire)


def test_a_replayed_session_reaches_the_server_exactly_once(replayed, tmp_path):
    analysis, wire = replayed
    db = tmp_path / "matcoach.db"
    (mat,) = provision(db, ["Mat 1"])
    store = open_store(str(db))
    headers = {"Authorization": f"Bearer {mat.token}"}
    with TestClient(create_app(store, settings_for_tests(db))) as client:
        size = MAX_BATCH // 4
        batches = [wire[i:i + size] for i in range(0, len(wire), size)]
        for batch in batches + batches[:2]:  # the first batches resent, as after a lost reply
            body = EventBatch(events=batch).model_dump(mode="json")
            assert client.post("/api/v1/events", json=body, headers=headers).status_code == 200
        state = client.get(mat.wall_path + "/state").json()
    assert store.count_events("rep") == len(analysis.reps)
    assert store.count_events("set") == len(analysis.sets)
    assert store.count_events("hold") == len(analysis.holds)
    assert state["session"]["rep_count"] == len(analysis.reps)
    assert state["session"]["last_rep"]["score"] == analysis.reps[-1].score
    store.close()
