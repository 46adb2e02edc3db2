"""Serving behaviour: concurrency with a responsive health check, lazy load, idle unload, a full queue,
failures. Tests in this file run in order: the lazy server is checked before anything loads it."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.asr.client import AsrClient
from tests.asr.conftest import MAX_NEW_TOKENS
from tests.asr.shapes import assert_transcription
from tests.support.servers import ServerProcess, free_port, running


@pytest.fixture(scope="module")
def lazy_server(micro_ct2: Path) -> Iterator[AsrClient]:
    """Loads on the first request, unloads after 1 s idle, runs one inference and lets none wait."""
    port = free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false", "--model", str(micro_ct2),
        "--max_new_tokens", MAX_NEW_TOKENS, "--no-load_at_start", "--idle_unload_seconds", "1",
        "--max_concurrency", "1", "--max_queue", "0",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running(server, f"{base}/v2/health/live"):
        yield AsrClient(base, server)


def test_lazy_load_and_idle_unload(lazy_server: AsrClient, jfk_flac: Path) -> None:
    client = lazy_server
    assert client.ready().status_code == 503  # not loaded yet
    assert client.metric("voicestack_model_loaded", model_name="whisper") == 0.0
    response = client.raw(jfk_flac, language="en", temperature=0)  # loads on demand
    assert response.status_code == 200, response.text
    assert client.ready().status_code == 200
    assert client.metric("voicestack_model_loaded", model_name="whisper") == 1.0
    deadline = time.monotonic() + 10
    while client.metric("voicestack_model_loaded", model_name="whisper") != 0.0:
        assert time.monotonic() < deadline, "the idle model was not unloaded"
        time.sleep(0.2)
    assert client.ready().status_code == 200  # unloaded for idleness, reloads on demand
    assert client.raw(jfk_flac, language="en", temperature=0).status_code == 200
    assert client.metric("voicestack_asr_audio_seconds_total", task="transcribe") == pytest.approx(22.0)
    assert client.metric("voicestack_asr_real_time_factor_count", task="transcribe") == 2.0


def test_a_full_queue_answers_503_with_retry_after(lazy_server: AsrClient, long_flac: Path) -> None:
    client = lazy_server
    data = long_flac.read_bytes()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        plain = [pool.submit(client.raw, data, language="en", temperature=0) for _ in range(2)]
        streamed = [
            pool.submit(client.raw, data, language="en", temperature=0, stream=True) for _ in range(2)
        ]
        responses = [future.result() for future in plain + streamed]
    statuses = sorted(response.status_code for response in responses)
    assert 200 in statuses and 503 in statuses, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"].isdigit()
            assert response.json()["error"].startswith("server busy")
    assert client.raw(data, language="en", temperature=0).status_code == 200


def _decoded_done_running(client: AsrClient) -> tuple[float, float, float]:
    """Uploads decoded so far, requests answered, inferences running: from one ``/metrics`` page, which
    the server renders between two of its event loop's steps, so the three agree with each other."""
    text = httpx.get(f"{client.base}/metrics", timeout=10).text
    values = {"decoded": 0.0, "done": 0.0, "running": 0.0}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("voicestack_asr_media_decode_seconds_count{"):
            values["decoded"] += float(value)
        elif name.startswith("voicestack_asr_requests_total{") and 'outcome="invalid"' not in name:
            values["done"] += float(value)
        elif name.startswith("voicestack_active_inferences{"):
            values["running"] += float(value)
    return values["decoded"], values["done"], values["running"]


def test_four_long_requests_while_health_stays_quick(fw_server: AsrClient, long_flac: Path) -> None:
    """Served one at a time with a responsive health check; a queued upload is decoded only when its turn
    comes, so it takes no CPU from the transcription running."""
    data = long_flac.read_bytes()
    decoded_before, done_before, _ = _decoded_done_running(fw_server)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(fw_server.raw, data, "audio/flac", language="en", temperature=0) for _ in range(4)
        ]
        latencies, decoded_early = [], []
        while not all(future.done() for future in futures):
            started = time.perf_counter()
            assert fw_server.ready().status_code == 200
            latencies.append(time.perf_counter() - started)
            decoded, done, running = _decoded_done_running(fw_server)
            if decoded - decoded_before > done - done_before + running:
                decoded_early.append((decoded - decoded_before, done - done_before, running))
            time.sleep(0.05)
        responses = [future.result() for future in futures]
    assert not decoded_early, f"uploads decoded while queued (decoded, done, running): {decoded_early}"
    for response in responses:
        assert response.status_code == 200, response.text
        assert_transcription(response.json(), "transcribe", 234.546)
    assert latencies, "the requests finished before the health check could be probed"
    # Kubernetes' default probe timeout is 1 s. The engine keeps both cores busy meanwhile, so allow for
    # scheduling delays, but no probe may come near that timeout.
    assert max(latencies) < 1.0, latencies
    assert sorted(latencies)[len(latencies) // 2] < 0.5, latencies


def test_engine_failure_is_a_500_and_the_server_lives_on(tmp_path: Path, jfk_flac: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"this is not a CTranslate2 model")
    (broken / "config.json").write_text("{}")
    port = free_port()
    server = ServerProcess.voicestack(
        "asr",
        "--http_port",
        str(port),
        "--enable_grpc",
        "false",
        "--model",
        str(broken),
        "--no-load_at_start",
    )
    base = f"http://127.0.0.1:{port}"
    with running(server, f"{base}/v2/health/live"):
        client = AsrClient(base, server)
        for _ in range(2):
            response = client.raw(jfk_flac, language="en")
            assert response.status_code == 500
            assert "could not be loaded" in response.json()["error"]
        assert httpx.get(f"{base}/v2/health/live", timeout=5).status_code == 200
        assert client.ready().status_code == 503
        assert "error" in httpx.get(f"{base}/v2/models/whisper/ready", timeout=5).json()


def test_bad_flags_and_unloadable_models_exit_with_a_message(tmp_path: Path) -> None:
    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "voicestack_predictors.asr", "--enable_grpc", "false", *args]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    bad_flag = start("--beam_size", "11")
    missing = start("--model", str(tmp_path / "nowhere"), "--http_port", str(free_port()))
    hub = start(
        "--model", "Systran/faster-whisper-tiny", "--local_files_only", "--download_root", str(tmp_path),
        "--http_port", str(free_port()),
    )  # fmt: skip
    _, bad_flag_err = bad_flag.communicate(timeout=120)
    _, missing_err = missing.communicate(timeout=120)
    _, hub_err = hub.communicate(timeout=120)
    assert bad_flag.returncode != 0
    assert "--beam_size / ASR_BEAM_SIZE: Input should be less than or equal to 10 (got 11)" in bad_flag_err
    assert missing.returncode == 1 and "model directory not found" in missing_err
    # A repo id goes to the Hub path; not cached and downloads forbidden: a message naming model and cache.
    assert hub.returncode == 1, hub_err
    assert "'Systran/faster-whisper-tiny' is not in the cache" in hub_err
    assert "--local_files_only forbids downloading it" in hub_err
