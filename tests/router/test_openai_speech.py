"""OpenAI speech and voices through the router to the real TTS predictor (random VITS), with the SDK."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import av
import httpx
import openai
import pytest

from tests.router.conftest import API_KEY, Running, consent_for
from tests.support.assets import asset
from tests.support.hostile import sdp, udp_sockets

TEXT = "The quick brown fox jumps over the lazy dog. It was a sunny day! Was it really?"
LONG_TEXT = " ".join(
    [TEXT] * 4
)  # long enough that a wrong rate (22.05 vs 24 kHz) is far beyond encoder padding
CONTAINERS = {"mp3": "mp3", "aac": "aac", "opus": "ogg", "flac": "flac", "wav": "wav"}
RATES = {"mp3": 24000, "aac": 24000, "opus": 48000, "flac": 24000, "wav": 24000}


def _decode(data: bytes) -> tuple[str, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name.split(",")[0], stream.rate, stream.channels, samples / stream.rate


@pytest.fixture(scope="module")
def voice(client: openai.OpenAI) -> str:
    listed = client.get("/audio/voices", cast_to=object)
    assert isinstance(listed, dict) and listed["object"] == "list" and listed["data"]
    return str(listed["default"] or listed["data"][0]["id"])


@pytest.fixture(scope="module")
def pcm_seconds(client: openai.OpenAI, voice: str) -> float:
    """How long LONG_TEXT lasts as raw pcm (s16le mono at 24 kHz: 48000 bytes a second)."""
    data = client.audio.speech.create(
        model="tts-1", voice=voice, input=LONG_TEXT, response_format="pcm"
    ).read()
    assert len(data) % 2 == 0
    return len(data) / 2 / 24000


@pytest.mark.parametrize("response_format", sorted(CONTAINERS))
def test_speech_formats_decode_back(
    client: openai.OpenAI, voice: str, response_format: str, pcm_seconds: float
) -> None:
    chunks: list[bytes] = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice=voice,
        input=LONG_TEXT,
        response_format=response_format,  # type: ignore[arg-type]
    ) as response:
        assert response.headers["content-type"].startswith("audio/")
        chunks.extend(response.iter_bytes())
    container, rate, channels, seconds = _decode(b"".join(chunks))
    assert (container, rate, channels) == (CONTAINERS[response_format], RATES[response_format], 1)
    # The same speech in every format (encoder padding aside), and pcm read as 24 kHz agrees with it.
    assert seconds > 1.0 and seconds == pytest.approx(pcm_seconds, abs=0.1)


def test_pcm_is_24k_mono_s16le(client: openai.OpenAI, voice: str) -> None:
    audio = client.audio.speech.create(
        model="gpt-4o-mini-tts",
        voice=voice,
        input=TEXT,
        response_format="pcm",
        instructions="Speak cheerfully.",
    )
    data = audio.read()
    assert len(data) % 2 == 0 and len(data) / 2 / 24000 > 0.2
    # Same samples as the wav (whose header says 24 kHz, mono, 16 bit): pcm is that wav without its header.
    wav = client.audio.speech.create(model="tts-1", voice=voice, input=TEXT, response_format="wav").read()
    with av.open(io.BytesIO(wav)) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels, stream.codec_context.name) == (24000, 1, "pcm_s16le")
        samples = sum(frame.samples for frame in container.decode(stream))
    assert len(data) // 2 == pytest.approx(samples, abs=24)


def test_speed_range_is_accepted(client: openai.OpenAI, voice: str) -> None:
    # The random VITS ignores speed (its durations sit at the one-frame floor, so length_scale changes
    # nothing): what is checked here is that the whole OpenAI range goes through to the predictor.
    for speed in (0.25, 4.0):
        pcm = client.audio.speech.create(
            model="tts-1", voice={"id": voice}, input=TEXT, response_format="pcm", speed=speed
        ).read()
        assert len(pcm) > 0


def test_sse_stream(client: openai.OpenAI, voice: str) -> None:
    events = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice=voice, input=TEXT, response_format="wav", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    # OpenAI's shapes: SpeechAudioDeltaEvent {type, audio} … then SpeechAudioDoneEvent {type, usage}
    assert [event["type"] for event in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert all(set(event) == {"type", "audio"} for event in events[:-1]) and len(events) > 2
    assert events[-1]["type"] == "speech.audio.done" and set(events[-1]) == {"type", "usage"}
    assert set(events[-1]["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
    audio = b"".join(
        base64.b64decode(event["audio"]) for event in events if event["type"] == "speech.audio.delta"
    )
    assert _decode(audio)[:3] == ("wav", 24000, 1)


def test_first_bytes_before_the_end(router: Running, voice: str) -> None:
    long_text = " ".join([TEXT] * 24)
    started = time.perf_counter()
    first = None
    body = {"model": "tts-1", "input": long_text, "voice": voice, "response_format": "pcm"}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.stream("POST", f"{router.url}/v1/audio/speech", timeout=120, headers=headers, json=body) as r:
        for chunk in r.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    assert first is not None and first < total / 2


def test_speech_errors(client: openai.OpenAI, voice: str) -> None:
    with pytest.raises(openai.NotFoundError) as unknown_voice:
        client.audio.speech.create(model="tts-1", voice="nobody-here", input="Hello.")
    assert unknown_voice.value.body["param"] == "voice"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):  # the {"id": …} form names the voice too
        client.audio.speech.create(model="tts-1", voice={"id": "nobody-here"}, input="Hello.")
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-9", voice=voice, input="Hello.")
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice=voice, input="x" * 4097)
    with pytest.raises(openai.BadRequestError) as speed:
        client.audio.speech.create(model="tts-1", voice=voice, input="Hello.", speed=4.5)
    assert speed.value.body["param"] == "speed"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice=voice, input="Hello.", response_format="ogg")  # type: ignore[arg-type]


def test_request_id_reaches_the_tts_predictor(router: Running, tts_predictor: Running, voice: str) -> None:
    body = {"model": "tts-1", "input": TEXT, "voice": voice, "response_format": "pcm"}
    traced = httpx.post(
        f"{router.url}/v1/audio/speech",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "speech-trace-7"},
        timeout=120,
    )
    assert traced.status_code == 200 and traced.headers["x-request-id"] == "speech-trace-7"
    assert "speech-trace-7" in tts_predictor.server.log()
    made_up = httpx.post(
        f"{router.url}/v1/audio/speech",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    assert made_up.status_code == 200 and len(made_up.headers["x-request-id"]) >= 16
    assert made_up.headers["x-request-id"] in tts_predictor.server.log()


def test_speech_wants_json(router: Running) -> None:
    form = httpx.post(
        f"{router.url}/v1/audio/speech",
        data={"model": "tts-1", "input": "Hello.", "voice": "alloy"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert form.status_code == 415, form.text
    assert set(form.json()["error"]) == {"message", "type", "param", "code"}


def test_models_list_both_kinds(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"whisper-1", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= ids


def test_voice_upload_and_delete(client: openai.OpenAI, router: Running, voices_dir: Path) -> None:
    sample = asset("voice_ref/ljspeech_LJ001-0001.wav")
    created = client.audio.voices.create(
        name="narrator", audio_sample=sample.open("rb"), consent=consent_for(router.url)
    )
    assert created.id == "narrator" and created.object == "audio.voice"
    assert (voices_dir / "narrator.wav").exists()
    with pytest.raises(openai.BadRequestError):
        client.audio.voices.create(name="bad name!", audio_sample=sample.open("rb"), consent="x")
    with pytest.raises(openai.BadRequestError):
        client.audio.voices.create(name="noise", audio_sample=("n.wav", b"not audio"), consent="x")
    deleted = client.audio.voices.delete("narrator")
    assert deleted.deleted is True and not (voices_dir / "narrator.wav").exists()
    with pytest.raises(openai.NotFoundError):
        client.audio.voices.delete("narrator")


def test_two_stored_voices_list_sorted_by_name(client: openai.OpenAI, router: Running) -> None:
    """Listing sorted the store's voices, which had no order: two stored voices made it a 500."""
    sample = asset("voice_ref/ljspeech_LJ001-0001.wav")
    for name in ("zoe", "anna"):
        client.audio.voices.create(name=name, audio_sample=sample.open("rb"), consent=consent_for(router.url))
    try:
        with httpx.Client(base_url=router.url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            for _ in range(2):  # the same keep-alive connection answers again
                listed = http.get("/v1/audio/voices", timeout=30)
                assert listed.status_code == 200, listed.text
                stored = [voice["id"] for voice in listed.json()["data"] if voice["id"] in ("zoe", "anna")]
                assert stored == ["anna", "zoe"]
    finally:
        for name in ("zoe", "anna"):
            client.audio.voices.delete(name)


def test_a_voice_sample_is_opened_as_audio_only(client: openai.OpenAI, router: Running) -> None:
    """The router checks a sample with FFmpeg too: an SDP "sample" must not make it bind a UDP port."""
    with pytest.raises(openai.BadRequestError, match="format is not one this server accepts"):
        client.audio.voices.create(name="rtp", audio_sample=("rtp.sdp", sdp()), consent="x")
    assert udp_sockets(router.pid) == []


def test_cors_explicit_origin(router: Running) -> None:
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "GET"}
    allowed = httpx.options(f"{router.url}/v1/models", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == "http://app.example"
    other = httpx.get(f"{router.url}/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
