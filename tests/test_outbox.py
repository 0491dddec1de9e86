"""The station's outbox and uplink against the real server process: nothing lost, nothing doubled."""

from __future__ import annotations

import httpx
import pytest

from edge.station.outbox import Outbox
from edge.station.uplink import LinkDown, Uplink
from matcoach.wire import RepEvent
from tests.servers import count_stored, rep_event


def reps(n: int, session: str = "s1") -> list[RepEvent]:
    return [RepEvent.model_validate(rep_event(session_id=session, rep_index=i + 1)) for i in range(n)]




def test_the_outbox_survives_a_restart_in_order_and_ignores_a_requeued_event(tmp_path):
    events = reps(5)
    box = Outbox(tmp_path / "outbox.db")
    box.put(events)
    box.put(events[:2])
    box.close()
    box = Outbox(tmp_path / "outbox.db")
    assert [q.event_id for q in box.peek(10)] == [e.id for e in events]
    box.close()


def test_events_queued_while_the_server_is_down_arrive_once_when_it_is_back(gym, tmp_path):
    server, mat, db = gym
    box = Outbox(tmp_path / "outbox.db")
    link = Uplink(server.url, mat.token, box, batch=8)
    box.put(reps(30))
    with pytest.raises(LinkDown, match="unreachable"):
        link.send_pending()
    assert box.backlog() == 30
    server.start()
    assert link.send_pending() == 30
    assert box.backlog() == 0 and count_stored(db) == 30


def test_a_resend_after_a_lost_reply_is_not_stored_twice(gym, tmp_path):
    server, mat, db = gym
    server.start()
    events = reps(3)
    # The server got the batch but the station never heard back: it is still in the outbox.
    httpx.post(server.url + "/api/v1/events", headers={"Authorization": f"Bearer {mat.token}"},
               json={"events": [e.model_dump(mode="json") for e in events]}).raise_for_status()
    box = Outbox(tmp_path / "outbox.db")
    box.put(events)
    assert Uplink(server.url, mat.token, box).send_pending() == 3
    assert box.backlog() == 0 and count_stored(db) == 3


def test_an_event_the_server_refuses_for_good_is_set_aside_and_the_rest_go_through(gym, tmp_path):
    server, mat, db = gym
    server.start()
    events = reps(4)
    clash = events[1].model_copy(update={"score": 5})
    httpx.post(server.url + "/api/v1/events", headers={"Authorization": f"Bearer {mat.token}"},
               json={"events": [clash.model_dump(mode="json")]}).raise_for_status()
    box = Outbox(tmp_path / "outbox.db")
    box.put(events)
    assert Uplink(server.url, mat.token, box).send_pending() == 3
    assert box.backlog() == 0
    assert [event_id for event_id, _ in box.rejected()] == [events[1].id]
    assert count_stored(db) == 4  # the three plus the clashing one that was there first


def test_a_refused_token_keeps_every_event_queued(gym, tmp_path):
    server, mat, _ = gym
    server.start()
    box = Outbox(tmp_path / "outbox.db")
    box.put(reps(2))
    with pytest.raises(LinkDown, match="token"):
        Uplink(server.url, mat.token + "x", box).send_pending()
    assert box.backlog() == 2


def test_backoff_doubles_up_to_its_cap_with_jitter(tmp_path):
    box = Outbox(tmp_path / "outbox.db")
    low = Uplink("http://127.0.0.1:9", "t", box, backoff_s=(0.5, 30.0), rng=lambda: 0.0)
    high = Uplink("http://127.0.0.1:9", "t", box, backoff_s=(0.5, 30.0), rng=lambda: 0.999)
    assert [low.delay_s(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert high.delay_s(3) == pytest.approx(2.0, abs=0.01)
    assert 15.0 <= low.delay_s(50) <= high.delay_s(50) <= 30.0
