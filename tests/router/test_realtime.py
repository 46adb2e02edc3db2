"""Realtime transcription sessions on real Whisper base: VAD turns, manual commits, G.711, the official SDK.

Real speech streamed over a real WebSocket into a real router in front of a real ASR predictor; every server
event is validated against the openai SDK's types (``realtime_support.check_event``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.router.conftest import API_KEY, Running, start_router
from tests.router.realtime_support import Session, check_event, pcm_at, stream_audio
from tests.support.assets import asset
from tests.support.servers import ServerProcess, free_port
from tests.support.wer import wer

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # Python 3.11's reference G.711 encoder, to make the μ-law input

JFK = asset("audio/en/jfk.txt").read_text()
LONG_CLIP = "audio/long/ljspeech_LJ001-0001_to_0032_16k.flac"
GAP_SECONDS = 0.4  # the long clip is the LJSpeech clips joined with 0.4 s of silence


@pytest.fixture(scope="module")
def whisper_predictor(real_models: dict[str, Path]) -> Iterator[Running]:
    port = free_port()
    server = ServerProcess.voicestack(
        "asr", "--http_port", str(port), "--enable_grpc", "false", "--model", str(real_models["whisper-base"])
    )
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/v2/health/ready", timeout=180)
    yield Running(server, url)
    server.stop()


@pytest.fixture(scope="module")
def rt_router(whisper_predictor: Running) -> Iterator[Running]:
    running = start_router({"ROUTER_ASR_URLS": whisper_predictor.url, "ROUTER_API_KEYS": API_KEY})
    running.server.wait_http(f"{running.url}/health", timeout=30)
    yield running
    running.server.stop()


def _manifest() -> dict[str, dict]:
    return {entry["path"]: entry for entry in json.loads(asset("MANIFEST.json").read_text())}


def test_vad_turns_follow_the_sentence_gaps_of_the_long_clip(rt_router: Running) -> None:
    """The first four LJSpeech sentences, streamed in 100 ms chunks faster than real time: a turn ends in
    every 0.4 s gap between them (and at no other place but a pause inside a sentence), and the turns'
    words are the sentences'."""
    manifest = _manifest()
    clips = [manifest[f"audio/en/ljspeech/LJ001-{index:04d}.wav"] for index in range(1, 5)]
    ends, position = [], 0.0
    for clip in clips:
        position += clip["duration_s"]
        ends.append(position)
        position += GAP_SECONDS
    audio = pcm_at(asset(LONG_CLIP), 24000)[: int(24000 * (ends[-1] + 1.0))].tobytes()
    with Session(rt_router.url, API_KEY) as session:
        session.until("session.created")
        updated = session.configure(
            turn_detection={"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 300}
        )
        assert updated["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
        sender = session.stream(audio, chunk_bytes=4800, pace_seconds=0.025)  # 100 ms every 25 ms: 4x
        stops: list[float] = []
        transcripts: dict[str, str] = {}
        order: list[str] = []
        while len(stops) < len(ends) + 3:
            event = session.recv(timeout=120)
            if event["type"] == "input_audio_buffer.speech_stopped":
                stops.append(event["audio_end_ms"] / 1000)
                order.append(event["item_id"])
            elif event["type"] == "conversation.item.input_audio_transcription.completed":
                transcripts[event["item_id"]] = event["transcript"]
                assert event["usage"]["type"] == "duration" and event["usage"]["seconds"] > 0.5
                if len(transcripts) == len(order) and stops and stops[-1] >= ends[-1]:
                    break
        sender.join()
    for (
        end
    ) in ends:  # the sentence's end, then silence: the turn must end within the gap (+ the VAD's 300 ms)
        assert any(end < stop <= end + GAP_SECONDS + 0.45 for stop in stops), (end, stops)
    assert len(stops) <= len(ends) + 2, stops  # at most two pauses inside a sentence count as turn ends
    hypothesis = " ".join(transcripts[item] for item in order)
    references = [(asset(clip["path"]).with_suffix(".txt")).read_text() for clip in clips]
    assert wer([" ".join(references)], [hypothesis]) < 0.1, hypothesis


def test_official_sdk_at_real_time_pace(rt_router: Running) -> None:
    """The openai SDK's own realtime client (``intent=transcription``), JFK in 20 ms chunks at real-time
    pace with the default server_vad: speech_started/stopped, committed, deltas and completed per turn."""
    client = openai.OpenAI(base_url=f"{rt_router.url}/v1", api_key=API_KEY)
    audio = pcm_at(asset("audio/en/jfk.wav"), 24000).tobytes()
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        created = connection.recv()
        assert created.type == "session.created"
        connection.send(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                },
            }
        )
        assert connection.recv().type == "session.updated"
        thread = stream_audio(connection.send, audio + bytes(24000 * 2), chunk_bytes=960, pace_seconds=0.02)
        kinds: list[str] = []
        texts: list[str] = []
        last_stop = 0
        while True:
            raw = json.loads(connection.recv_bytes())
            check_event(raw)
            kinds.append(raw["type"])
            if raw["type"] == "conversation.item.input_audio_transcription.completed":
                texts.append(raw["transcript"])
            if raw["type"] == "input_audio_buffer.speech_stopped":
                last_stop = raw["audio_end_ms"]
            # Done once the turn that ends past 10 s is committed and every committed turn is transcribed
            # (a turn's speech_stopped comes before its committed: counting only committed ones stopped
            # before the last turn's commit whenever the earlier turns were already transcribed).
            committed = kinds.count("input_audio_buffer.committed")
            stopped = kinds.count("input_audio_buffer.speech_stopped")
            if last_stop > 10000 and committed == stopped and len(texts) == committed:
                break
        thread.join()
    assert kinds[0] == "input_audio_buffer.speech_started"
    assert "conversation.item.input_audio_transcription.delta" in kinds
    assert kinds.count("input_audio_buffer.speech_started") == kinds.count(
        "input_audio_buffer.speech_stopped"
    )
    assert wer([JFK], [" ".join(texts)]) < 0.1, texts


def test_manual_commits_in_g711_mu_law(rt_router: Running) -> None:
    """turn_detection null and audio/pcmu (8 kHz μ-law): nothing happens until the client commits; the
    commit gives one item with the whole clip's words; empty commits and clears are answered. Asked for
    logprobs, the deltas and the completed event carry Whisper's token log probabilities, which spell the
    transcript."""
    linear = pcm_at(asset("audio/en/jfk.wav"), 8000).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mu_law = audioop.lin2ulaw(linear, 2)
    with Session(rt_router.url, API_KEY) as session:
        session.until("session.created")
        updated = session.configure(
            include=["item.input_audio_transcription.logprobs"],
            format={"type": "audio/pcmu"},
            turn_detection=None,
        )
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        assert updated["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        session.send({"type": "input_audio_buffer.commit", "event_id": "c0"})
        empty = session.until("error")
        assert (
            empty["error"]["code"] == "input_audio_buffer_commit_empty" and empty["error"]["event_id"] == "c0"
        )
        session.stream(b"\xff" * 8000, chunk_bytes=800, pace_seconds=None).join()  # 1 s of μ-law silence
        session.send({"type": "input_audio_buffer.clear"})
        session.until("input_audio_buffer.cleared")
        session.stream(mu_law, chunk_bytes=800, pace_seconds=None).join()
        session.send({"type": "input_audio_buffer.commit"})
        committed = session.until("input_audio_buffer.committed")
        assert committed["previous_item_id"] is None
        completed = session.until("conversation.item.input_audio_transcription.completed")
        assert completed["item_id"] == committed["item_id"]
        assert completed["usage"]["seconds"] == pytest.approx(11.0, abs=0.1)  # the cleared second is gone
        assert wer([JFK], [completed["transcript"]]) < 0.1, completed["transcript"]
        deltas = [e for _, e in session.received if e["type"].endswith("transcription.delta")]
        assert deltas and "".join(d["delta"] for d in deltas).strip() == completed["transcript"]
        logprobs = completed["logprobs"]
        assert logprobs and all(entry["logprob"] <= 0.0 for entry in logprobs)
        spelled = b"".join(bytes(entry["bytes"]) for entry in logprobs).decode("utf-8", "replace")
        assert spelled.strip() == completed["transcript"]
        assert [entry for delta in deltas for entry in delta["logprobs"]] == logprobs
        assert not [e for _, e in session.received if e["type"].startswith("input_audio_buffer.speech")]
