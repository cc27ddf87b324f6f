"""The sandbox server: routing, fault injection per route and request number, HTTP control, the CLI."""

import json
import subprocess
import sys

import pytest
import requests

from sandbox.courier import API_KEY, CourierFake
from sandbox.server import Reply, Sandbox


class Echo:
    name = "echo"

    def handle(self, request):
        return Reply.json({"path": request.path, "query": request.query, "n": request.arg("n")})

    def malformed(self, request):
        return Reply.text("{broken", content_type="application/json")

    def without_envelope(self, request):
        return Reply.json({"other": []})

    def expired_token(self, request):
        return Reply.json({"message": "token expired"}, 401)

    def control(self, action, payload):
        return {"action": action, **payload}


class Streamer:
    name = "stream"

    def handle(self, request):
        return Reply(200, (f"line {i}\n".encode() for i in range(50_000)), {"Content-Type": "text/plain"})


def get(box, path, **kwargs):
    return requests.get(box.url("echo") + path, timeout=5, **kwargs)


def test_routes_by_prefix_and_records_requests(sandbox):
    box = sandbox(Echo())
    assert get(box, "/a/b", params={"n": "1"}).json() == {"path": "/a/b", "query": {"n": ["1"]}, "n": "1"}
    assert [r.path for r in box.requests_to("echo")] == ["/a/b"]
    assert requests.get(box.url("nope"), timeout=5).status_code == 404


def test_a_status_fault_fires_on_the_nth_request_only(sandbox):
    box = sandbox(Echo())
    box.faults.add("echo", "/x", "status", nth=2, status=503, retry_after="7")
    codes = [get(box, "/x").status_code for _ in range(3)]
    assert codes == [200, 503, 200]
    box.faults.add("echo", "/x", "status", status=429, retry_after="3")
    response = get(box, "/x")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_a_persistent_fault_fires_until_cleared_and_only_on_its_route(sandbox):
    box = sandbox(Echo())
    box.faults.add("echo", "/bad", "status", times=None, status=500)
    assert [get(box, "/bad").status_code for _ in range(3)] == [500, 500, 500]
    assert get(box, "/good").status_code == 200
    box.faults.clear()
    assert get(box, "/bad").status_code == 200


def test_reset_truncate_slow_malformed_and_expired_token(sandbox):
    box = sandbox(Echo(), Streamer())
    box.faults.add("echo", "/reset", "reset")
    with pytest.raises(requests.ConnectionError):
        get(box, "/reset")
    box.faults.add("echo", "/cut", "truncate")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get(box, "/cut").json()
    box.faults.add("stream", "/", "truncate")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _ = requests.get(box.url("stream"), timeout=5).content
    box.faults.add("echo", "/slow", "slow", delay_s=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(box.url("echo") + "/slow", timeout=(2, 0.2))
    box.faults.add("echo", "/m", "malformed")
    assert get(box, "/m").text == "{broken"
    box.faults.add("echo", "/e", "envelope")
    assert get(box, "/e").json() == {"other": []}
    box.faults.add("echo", "/t", "expired_token")
    assert get(box, "/t").status_code == 401


def test_streamed_bodies_arrive_whole(sandbox):
    box = sandbox(Streamer())
    body = requests.get(box.url("stream"), timeout=5).text
    assert body.count("\n") == 50_000


def test_faults_and_fake_actions_can_be_driven_over_http(sandbox):
    box = sandbox(Echo())
    control = f"http://127.0.0.1:{box.port}/_sandbox"
    requests.post(control + "/faults", json={"source": "echo", "path": "/y", "kind": "status",
                                             "options": {"status": 502}}, timeout=5)
    assert get(box, "/y").status_code == 502
    assert requests.post(control + "/echo/poke", json={"x": 1}, timeout=5).json() == {"action": "poke", "x": 1}
    seen = requests.get(control + "/requests", timeout=5).json()
    assert [r["path"] for r in seen] == ["/y"]
    box.faults.add("echo", "/z", "status", times=None, status=500)
    requests.delete(control + "/faults", timeout=5)
    assert get(box, "/z").status_code == 200


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Sandbox(Echo()).faults.add("echo", "/", "explode")


def test_courier_fake_checks_the_key_and_encodes_cursors(sandbox):
    box = sandbox(CourierFake())
    url = box.url("courier") + "/brands"
    assert requests.get(url, timeout=5).status_code == 403
    auth = {"Authorization": f"Bearer {API_KEY}"}
    first = requests.get(url, headers=auth, timeout=5).json()
    assert first["paging"] == {"cursor": "brands:20:a+b/c=", "more": True}
    unencoded = requests.get(url + "?cursor=brands:20:a+b/c=", headers=auth, timeout=5)
    assert unencoded.status_code == 400  # '+' read as a space: clients must URL-encode cursors
    second = requests.get(url, params={"cursor": first["paging"]["cursor"]}, headers=auth, timeout=5).json()
    assert len(second["results"]) == 5 and second["paging"]["more"] is False


def test_the_command_line_serves_and_writes_configurations(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "--config-dir", str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        assert "configurations written to" in process.stdout.readline()  # each file complete (renamed into place)
        configuration = json.loads((tmp_path / "courier.json").read_text())
        assert not list(tmp_path.glob(".*.partial"))
        brands = requests.get(configuration["base_url"] + "/brands", timeout=5,
                              headers={"Authorization": f"Bearer {configuration['api_key']}"})
        assert brands.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_one_request_fires_one_fault_and_later_faults_count_only_what_reaches_them(sandbox):
    box = sandbox(Echo())
    box.faults.add("echo", "/", "status", status=500)
    box.faults.add("echo", "/", "status", status=502)
    assert [get(box, "/q").status_code for _ in range(3)] == [500, 502, 200]
