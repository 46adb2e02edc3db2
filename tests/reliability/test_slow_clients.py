"""Slow clients (slowloris): headers that never finish and bodies that trickle are cut off in bounded time
(ROUTER_HEADER_TIMEOUT_SECONDS 2, ROUTER_BODY_GRACE_SECONDS 2, ROUTER_BODY_MIN_BYTES_PER_SECOND 2048 here)
while the router keeps answering everyone else."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.reliability.conftest import FIGURES, Stack

SLOW_CONNECTIONS = 64


def _connect(stack: Stack) -> socket.socket:
    address = urlsplit(stack.url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _closed(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (a read returns nothing, or the connection was reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def test_slowloris_headers_are_cut_off_and_others_are_served(stack: Stack) -> None:
    sockets = [_connect(stack) for _ in range(SLOW_CONNECTIONS)]
    started = time.perf_counter()
    open_at: dict[int, float] = {}
    healthz_seconds: list[float] = []
    try:
        for sock in sockets:
            sock.sendall(b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n")
        deadline = started + 15
        while time.perf_counter() < deadline and len(open_at) < len(sockets):
            for index, sock in enumerate(sockets):
                if index in open_at:
                    continue
                if _closed(sock):
                    open_at[index] = time.perf_counter() - started
                else:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"X")  # one more header byte: never the end of the headers
            probe = time.perf_counter()
            assert httpx.get(f"{stack.url}/healthz", timeout=5).status_code == 200
            healthz_seconds.append(time.perf_counter() - probe)
            time.sleep(0.25)
    finally:
        for sock in sockets:
            sock.close()
    FIGURES["slowloris (headers)"] = {
        "connections": SLOW_CONNECTIONS,
        "cut off": len(open_at),
        "longest held (s)": round(max(open_at.values(), default=0), 2),
        "/healthz meanwhile, slowest (s)": round(max(healthz_seconds), 3),
    }
    assert len(open_at) == SLOW_CONNECTIONS
    assert max(open_at.values()) < 6  # 2 s header deadline, on a loaded machine
    assert max(healthz_seconds) < 2


def test_a_trickled_body_gets_a_408(stack: Stack) -> None:
    sock = _connect(stack)
    boundary = "b0undary"
    head = (
        f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    )
    started = time.perf_counter()
    try:
        sock.sendall(head.encode() + f"--{boundary}\r\n".encode())
        answer = b""
        while time.perf_counter() - started < 20 and b"\r\n\r\n" not in answer:
            with contextlib.suppress(OSError):
                sock.sendall(b"x" * 100)  # 400 bytes/s, below the 2048 bytes/s floor
            sock.settimeout(0.25)
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
        seconds = time.perf_counter() - started
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            answer += sock.recv(65536)
    finally:
        sock.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2] or b"{}")
    assert body["error"]["code"] == "request_timeout", body
    assert seconds < 8, seconds
    FIGURES["slow body"] = {"answer": "408 request_timeout", "after (s)": round(seconds, 2)}
