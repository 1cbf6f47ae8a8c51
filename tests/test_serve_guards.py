"""``rmr1 serve`` against what a browser page, a slow client or a burst can send: 415, 403, 408, 400 for
text that is not Unicode, and a listen queue that holds a burst."""

from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rmr1_cli.judging.server import LISTEN_QUEUE

PAIR = {"prompt": "2+2?", "chosen": "good 4", "rejected": "5"}


@pytest.fixture()
def server(serve_in_thread):
    return serve_in_thread(batch_wait_ms=5, read_timeout_s=0.5)


def post(srv, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    status, payload = response.status, json.loads(response.read())
    conn.close()
    return status, payload


def test_a_body_that_is_not_declared_json_gets_415(server):
    body = json.dumps({"pairs": [PAIR]}).encode()
    for media in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": media} if media else {}
        status, payload = post(server, "/judge", body, headers)
        assert status == 415 and "application/json" in payload["error"]["message"]
    assert post(server, "/judge", body, {"Content-Type": "application/json; charset=utf-8"})[0] == 200


def test_a_foreign_host_header_is_refused_on_a_loopback_bind(server):
    body = json.dumps({"pairs": [PAIR]}).encode()
    status, payload = post(
        server, "/judge", body, {"Content-Type": "application/json", "Host": "evil.example:80"}
    )
    assert status == 403 and "Host" in payload["error"]["message"]
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert post(server, "/judge", body, {"Content-Type": "application/json", "Host": host})[0] == 200


def test_a_lone_surrogate_is_a_400_naming_the_field(server):
    body = b'{"pairs": [{"prompt": "x \\ud800", "chosen": "a", "rejected": "b"}]}'
    status, payload = post(server, "/judge", body, {"Content-Type": "application/json"})
    assert status == 400 and "pairs[0].prompt" in payload["error"]["message"]
    body = b'{"messages": [{"role": "user", "content": "\\udfff"}]}'
    status, _ = post(server, "/v1/chat/completions", body, {"Content-Type": "application/json"})
    assert status == 400


def test_a_client_that_stalls_mid_body_gets_408_and_no_traceback(server, caplog):
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(b"POST /judge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"pairs\"")  # fmt: skip
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.0 408") or reply.startswith("HTTP/1.1 408")
    assert "Traceback" not in caplog.text and "error while serving" not in caplog.text


def test_a_burst_of_connections_is_queued_not_reset(server):
    assert server.request_queue_size == LISTEN_QUEUE >= 128
    body = json.dumps({"pairs": [PAIR]}).encode()

    def one(_):
        return post(server, "/judge", body, {"Content-Type": "application/json"})[0]

    started = time.perf_counter()
    with ThreadPoolExecutor(100) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses == [200] * 100, (statuses.count(200), time.perf_counter() - started)
