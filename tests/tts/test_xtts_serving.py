"""The random-weight XTTS served for real: streaming, V1/V2 shapes, cloning, voices, aliases, metrics."""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import httpx

from tests.support.assets import asset
from tests.tts.client import Streamed, TtsClient

# Each sentence is long enough to be its own chunk (two together exceed 180 characters).
THREE_SENTENCES = (
    "Printing, in the only sense with which we are at present concerned, differs from most arts and crafts. "
    "For although the Chinese took impressions from wood blocks engraved in relief for centuries before. "
    "The printers of Haarlem and Mainz produced the earliest books that were printed from movable types."
)


def test_ready_and_live(xtts: TtsClient) -> None:
    assert httpx.get(xtts.url("/v2/health/ready")).status_code == 200
    ready = httpx.get(xtts.url("/v2/models/xtts/ready"))
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_stream_returns_pcm_at_declared_rate(xtts: TtsClient) -> None:
    result = xtts.stream({"text": "Hello there, how are you today?", "voice": "lj", "language": "en"})
    assert result.status == 200, result.body[:300]
    assert result.headers["content-type"] == "audio/pcm"
    assert result.headers["x-sample-rate"] == "24000"
    assert result.headers["x-channels"] == "1"
    assert result.headers["x-sample-format"] == "s16le"
    assert result.headers["x-language"] == "en"
    assert result.headers["x-voice"] == "lj"
    assert len(result.body) % 2 == 0
    assert 0.5 < result.duration < 12.0  # one sentence of the random model is about 2.2 s


def test_three_sentences_stream_before_the_end(xtts: TtsClient) -> None:
    result = xtts.stream({"text": THREE_SENTENCES, "voice": "lj", "language": "en"})
    assert result.status == 200
    arrivals = [t for t, size in result.arrivals if size]
    # More than one piece per sentence: audio arrives while a sentence is still being generated.
    assert len(arrivals) > 3, result.arrivals
    # The first audio comes well before the end: long before the third sentence is generated.
    assert arrivals[0] < result.total_seconds / 3, (arrivals[0], result.total_seconds)
    assert result.duration > 3 * 1.0


def test_stream_false_generates_the_piece_whole(xtts: TtsClient) -> None:
    """``"stream": false`` (what the router asks for after its first sentence) makes the audio in one go."""
    text = "One sentence long enough for the model to make it in several streamed pieces."
    streamed = xtts.stream({"text": text, "voice": "lj", "language": "en"})
    whole = xtts.stream({"text": text, "voice": "lj", "language": "en", "stream": False})
    assert streamed.status == whole.status == 200
    assert 0.5 < whole.duration < 12.0

    def spread(result: Streamed) -> float:
        times = [t for t, size in result.arrivals if size]
        return times[-1] - times[0]

    # Streamed pieces come out over the generation; a whole piece arrives in one burst.
    assert spread(whole) < 0.25 < spread(streamed), (whole.arrivals, streamed.arrivals)
    bad = xtts.stream({"text": text, "voice": "lj", "stream": "no"})
    assert bad.status == 400 and '"stream" must be true or false' in bad.json()["error"]


def test_speed_changes_duration(xtts: TtsClient) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    normal = xtts.stream({"text": text, "voice": "lj", "language": "en"})
    fast = xtts.stream({"text": text, "voice": "lj", "language": "en", "speed": 2.0})
    assert normal.status == fast.status == 200
    assert 0.35 < fast.duration / normal.duration < 0.65


def test_v1_shape(xtts: TtsClient) -> None:
    response = xtts.v1([{"text": "Hello there.", "voice": "lj", "language": "en"}, "Second text."])
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    first = predictions[0]
    keys = {"audio", "sample_rate", "channels", "sample_format", "duration", "language", "voice"}
    assert set(first) == keys
    assert first["sample_rate"] == 24000 and first["channels"] == 1 and first["sample_format"] == "s16le"
    pcm = base64.b64decode(first["audio"]["b64"])
    assert abs(len(pcm) / 2 / 24000 - first["duration"]) < 0.01
    assert first["voice"] == "lj" and first["language"] == "en"
    assert predictions[1]["voice"] == "lj"  # the default voice


def test_v2_shape(xtts: TtsClient) -> None:
    response = xtts.v2(["Hello there."], {"voice": "alloy", "language": "en", "speed": 1.5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "xtts"
    outputs = {output["name"]: output for output in body["outputs"]}
    assert set(outputs) == {"audio", "duration", "language", "voice"}
    output = outputs["audio"]
    assert output["datatype"] == "BYTES" and output["shape"] == [1]
    pcm = base64.b64decode(output["data"][0])
    assert len(pcm) > 0 and len(pcm) % 2 == 0
    assert body["parameters"]["sample_rate"] == 24000
    assert body["parameters"]["voice"] == "lj"
    assert body["parameters"]["language"] == "en"
    assert body["parameters"]["duration"] == outputs["duration"]["data"][0]
    assert abs(len(pcm) / 2 / 24000 - body["parameters"]["duration"]) < 0.01


def test_v2_several_texts_each_get_their_metadata(xtts: TtsClient) -> None:
    """Every text of a V2 request has its own duration and (detected) language, not the first's."""
    texts = ["Hello there.", "Guten Morgen, wie geht es Ihnen heute? Das Wetter ist schön."]
    response = xtts.v2(texts, {"voice": "lj", "language": "auto"})
    assert response.status_code == 200, response.text
    body = response.json()
    outputs = {output["name"]: output for output in body["outputs"]}
    assert all(output["shape"] == [2] for output in outputs.values()), outputs
    assert outputs["language"]["data"] == ["en", "de"]
    assert outputs["voice"]["data"] == ["lj", "lj"]
    assert outputs["duration"]["datatype"] == "FP64"
    for b64, duration in zip(outputs["audio"]["data"], outputs["duration"]["data"], strict=True):
        assert abs(len(base64.b64decode(b64)) / 2 / 24000 - duration) < 0.01
    # Only what all texts share is a response parameter.
    assert body["parameters"]["sample_rate"] == 24000 and body["parameters"]["voice"] == "lj"
    assert "language" not in body["parameters"] and "duration" not in body["parameters"]


def test_voices_listing(xtts: TtsClient) -> None:
    listing = xtts.voices()
    voices = {v["name"]: v for v in listing["voices"]}
    assert {"lj", "duo", "jfk", "cm", "short", "garbage", "lowrate"} <= set(voices)
    assert not any(name.startswith(".") for name in voices)
    assert voices["lj"] == {"name": "lj", "source": "file", "duration": 9.66, "language": "en", "samples": 1}
    assert voices["duo"]["source"] == "directory" and voices["duo"]["samples"] == 2
    assert voices["jfk"]["samples"] == 1 and 10.5 < voices["jfk"]["duration"] < 11.5
    assert voices["cm"]["samples"] == 1
    assert "1.8 s long" in voices["short"]["error"]
    assert "not readable audio" in voices["garbage"]["error"]
    assert "8000 Hz" in voices["lowrate"]["error"]
    assert listing["default"] == "lj"
    assert (listing["engine"], listing["cloning"]) == ("xtts", True)
    assert listing["aliases"]["alloy"] == "lj"
    assert listing["aliases"]["echo"] == "duo"
    assert listing["aliases"]["shimmer"] == "lj"  # unmapped OpenAI names: the default voice


def test_openai_aliases(xtts: TtsClient) -> None:
    echo = xtts.stream({"text": "Hello.", "voice": "echo", "language": "en"})
    assert echo.status == 200 and echo.headers["x-voice"] == "duo"
    shimmer = xtts.stream({"text": "Hello.", "voice": "shimmer", "language": "en"})
    assert shimmer.status == 200 and shimmer.headers["x-voice"] == "lj"
    broken = xtts.stream({"text": "Hello.", "voice": "nova", "language": "en"})
    assert broken.status == 400
    assert "'missing'" in broken.json()["error"] and "lj" in broken.json()["error"]


def test_cloning_from_stereo_flac_and_configmap_links(xtts: TtsClient) -> None:
    for voice in ("jfk", "cm", "duo"):
        result = xtts.stream({"text": "Hello.", "voice": voice, "language": "en"})
        assert result.status == 200, (voice, result.body[:300])
        assert result.duration > 0.5


def test_conditioning_latents_are_computed_once_per_voice(xtts: TtsClient) -> None:
    def computed() -> int:
        return xtts.server.log().count("voice duo: conditioning latents in")

    for _ in range(2):
        assert xtts.stream({"text": "Hi.", "voice": "duo", "language": "en"}).status == 200
    once = computed()
    assert once == 1, xtts.server.log()[-3000:]
    assert xtts.stream({"text": "Again.", "voice": "duo", "language": "en"}).status == 200
    assert computed() == once  # cached by the samples' content hash


def test_voice_added_changed_removed_without_restart(xtts: TtsClient, voices_dir: Path) -> None:
    before = xtts.stream({"text": "Hello.", "voice": "newcomer", "language": "en"})
    assert before.status == 400 and "unknown voice 'newcomer'" in before.json()["error"]
    shutil.copy(asset("audio/en/ljspeech/LJ001-0011.wav"), voices_dir / "newcomer.wav")
    try:
        after = xtts.stream({"text": "Hello.", "voice": "newcomer", "language": "en"})
        assert after.status == 200 and after.headers["x-voice"] == "newcomer"
        assert any(v["name"] == "newcomer" for v in xtts.voices()["voices"])
        # Changed content (same name) is re-checked: now too short.
        shutil.copy(asset("audio/en/ljspeech/LJ001-0002.wav"), voices_dir / "newcomer.wav")
        changed = xtts.stream({"text": "Hello.", "voice": "newcomer", "language": "en"})
        assert changed.status == 400 and "newcomer" in changed.json()["error"]
    finally:
        (voices_dir / "newcomer.wav").unlink()
    gone = xtts.stream({"text": "Hello.", "voice": "newcomer", "language": "en"})
    assert gone.status == 400


def test_language_detection(xtts: TtsClient) -> None:
    german = xtts.stream(
        {"text": "Guten Morgen, wie geht es Ihnen heute? Das Wetter ist schön.", "voice": "lj"}
    )
    assert german.status == 200 and german.headers["x-language"] == "de"
    russian = xtts.stream({"text": "Привет, мир.", "voice": "lj", "language": "auto"})
    assert russian.status == 200 and russian.headers["x-language"] == "ru"


def test_metrics(xtts: TtsClient) -> None:
    xtts.stream({"text": "Counting characters.", "voice": "lj", "language": "en"})
    text = httpx.get(xtts.url("/metrics")).text
    assert "voicestack_tts_characters_total" in text
    assert "voicestack_tts_audio_seconds_total" in text
    assert "voicestack_tts_first_audio_seconds_bucket" in text
    assert 'voicestack_model_loaded{model_name="xtts"} 1.0' in text


def test_server_survives_a_client_that_hangs_up(xtts: TtsClient) -> None:
    with httpx.stream(
        "POST",
        xtts.url("/v1/models/xtts/synthesize"),
        json={"text": "This one is abandoned after the first bytes.", "voice": "lj", "language": "en"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        next(response.iter_raw())
    time.sleep(0.2)
    assert xtts.stream({"text": "Still here.", "voice": "lj", "language": "en"}).status == 200
