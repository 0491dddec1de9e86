"""Fuzzing the station API from its own OpenAPI schema (schemathesis): whatever is thrown at it, no
5xx, answers as documented, and the server still serves afterwards."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from server.app import create_app
from server.store import open_store
from tests.servers import provision, settings_for_tests

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def gym(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "matcoach.db"
    (mat,) = provision(db, ["Mat 1"])
    store = open_store(str(db))
    app = create_app(store, settings_for_tests(db))
    yield app, mat
    store.close()


@pytest.fixture(scope="module")
def api_schema(gym):
    app, _ = gym
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def auth(gym):
    return {"Authorization": f"Bearer {gym[1].token}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_answers_as_documented(case, auth):
    case.call_and_validate(headers=auth)


def test_the_server_still_serves_after_the_fuzzing(gym, auth):
    app, _ = gym
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert client.post("/api/v1/heartbeat", json={}, headers=auth).status_code == 422
