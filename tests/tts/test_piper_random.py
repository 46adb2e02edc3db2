"""Piper with a random-weight voice in the real format: finding the voice, choosing the engine, the shapes of
every route, voices and cloning refusals. Words are meaningless here (see test_piper_voice.py for those)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.assets import asset
from tests.support.servers import free_port
from tests.tts.client import TtsClient
from tests.tts.conftest import _server
from voicestack_predictors.tts import engines
from voicestack_predictors.tts.engines.piper import MIN_LENGTH_FACTOR, PiperEngine, voice_files
from voicestack_predictors.tts.settings import EngineSettings

VOICE = "en_US-random-micro"
CLONE_REFUSAL = "cannot clone voices: cloned voices need the XTTS-v2 engine"


@pytest.fixture(scope="module")
def random_voice() -> Path:
    return asset("models-random/piper-micro-random")


@pytest.fixture(scope="module")
def engine(random_voice: Path) -> PiperEngine:
    created = engines.create_engine(EngineSettings(model=str(random_voice), device="cpu"))
    assert isinstance(created, PiperEngine)
    return created


@pytest.fixture(scope="module")
def piper(
    random_voice: Path, tmp_path_factory: pytest.TempPathFactory, voice_ref: Path
) -> Iterator[TtsClient]:
    """The random voice, found through its .onnx file, with a voice directory holding a cloning sample."""
    voices = tmp_path_factory.mktemp("piper-voices")
    shutil.copy(voice_ref, voices / "lj.wav")
    args = [
        "--model",
        str(random_voice / f"{VOICE}.onnx"),
        "--model_name",
        "piper",
        "--voices_dir",
        str(voices),
    ]
    env = {"TTS_VOICE_ALIASES": "echo=lj"}
    for client in _server(args, env):
        client.model = "piper"
        client.server.wait_http(f"{client.base}/v2/health/ready", timeout=120)
        yield client


def test_voice_files_accepts_the_file_its_config_or_a_folder(random_voice: Path, tmp_path: Path) -> None:
    model, config = random_voice / f"{VOICE}.onnx", random_voice / f"{VOICE}.onnx.json"
    for given in (model, config, random_voice):
        assert voice_files(given) == (model, config), given
    assert voice_files(asset("models-random/coqui-vits-micro-random")) is None, "a coqui model is not Piper"
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a", "b"):
        shutil.copy(model, two / f"{name}.onnx")
        shutil.copy(config, two / f"{name}.onnx.json")
    with pytest.raises(ValueError, match=r"several Piper voices \(a.onnx, b.onnx\)"):
        voice_files(two)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(model, lonely / "voice.onnx")
    with pytest.raises(FileNotFoundError, match=r"voice.onnx has no voice.onnx.json beside it"):
        voice_files(lonely)


def test_auto_engine_reads_the_voice(engine: PiperEngine) -> None:
    assert (engine.kind, engine.sample_rate, engine.supports_cloning) == ("piper", 22050, False)
    assert engine.builtin_voices == [VOICE] and engine.languages == ["en"]


def test_speed_maps_to_a_length_scale_that_shortens_in_proportion(engine: PiperEngine) -> None:
    base = engine.length_scale(1.0)
    assert base == pytest.approx(1.0)  # the voice's own inference.length_scale
    scales = [engine.length_scale(speed) for speed in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert scales == sorted(scales, reverse=True), scales
    assert min(scales) >= MIN_LENGTH_FACTOR * base
    # What the fit promises: duration ≈ fixed + (1 - fixed) × scale, so 1/speed of the duration at speed 1.
    fixed = engine.fixed_fraction
    assert 0 <= fixed <= 0.6
    assert fixed + (1 - fixed) * engine.length_scale(0.5) == pytest.approx(2.0)


def test_explicit_engine_must_match_the_files(random_voice: Path) -> None:
    vits = str(asset("models-random/coqui-vits-micro-random"))
    with pytest.raises(FileNotFoundError, match="--engine piper needs a Piper voice"):
        engines.create_engine(EngineSettings(model=vits, engine="piper", device="cpu"))
    with pytest.raises(ValueError, match="is a Piper voice; use --engine piper"):
        engines.create_engine(EngineSettings(model=str(random_voice), engine="xtts", device="cpu"))
    with pytest.raises(RuntimeError, match="ONNX Runtime has no CUDA provider"):
        engines.create_engine(EngineSettings(model=str(random_voice), engine="piper", device="cuda"))


def test_catalogue_name_loads_the_cached_voice(real_models: dict[str, Path]) -> None:
    """A model catalogue name becomes its cached directory before the engine is chosen from the files."""
    created = engines.create_engine(EngineSettings(model="piper-en_US-joe-medium", device="cpu"))
    assert created.kind == "piper"
    with pytest.raises(ValueError, match="'whisper-base' is an asr model, not a TTS voice"):
        engines.create_engine(EngineSettings(model="whisper-base", device="cpu"))


def test_stream_v1_v2_share_the_voices_rate(piper: TtsClient) -> None:
    streamed = piper.stream({"text": "Hello there. How are you?", "voice": "alloy", "speed": 1.5})
    assert streamed.status == 200, streamed.body[:300]
    assert (streamed.sample_rate, streamed.headers["x-voice"], streamed.headers["x-language"]) == (
        22050,
        VOICE,
        "en",
    )
    assert streamed.duration > 0.2
    v1 = piper.v1([{"text": "Hello there."}, "Second text."])
    assert v1.status_code == 200, v1.text
    predictions = v1.json()["predictions"]
    assert [p["sample_rate"] for p in predictions] == [22050, 22050]
    for prediction in predictions:
        assert len(base64.b64decode(prediction["audio"]["b64"])) / 2 / 22050 == pytest.approx(
            prediction["duration"], abs=0.001
        )
    v2 = piper.v2(["One.", "Two."], {"voice": VOICE})
    assert v2.status_code == 200, v2.text
    assert v2.json()["parameters"]["sample_rate"] == 22050 and v2.json()["parameters"]["voice"] == VOICE


def test_voices_list_the_speaker_aliases_and_unusable_samples(piper: TtsClient) -> None:
    listing = piper.voices()
    assert (listing["engine"], listing["cloning"], listing["default"]) == ("piper", False, VOICE)
    voices = {voice["name"]: voice for voice in listing["voices"]}
    assert voices[VOICE]["source"] == "builtin"
    assert voices["lj"]["samples"] == 0 and CLONE_REFUSAL in voices["lj"]["error"]
    assert listing["aliases"]["alloy"] == VOICE and listing["aliases"]["echo"] == "lj"


@pytest.mark.parametrize("voice", ["lj", "echo"])
def test_a_cloned_voice_is_a_400_naming_xtts(piper: TtsClient, voice: str) -> None:
    """Directly, or through an alias: the engine that can clone is named, not "unknown voice"."""
    refused = piper.stream({"text": "Hello.", "voice": voice})
    assert refused.status == 400
    message = refused.json()["error"]
    assert "'lj' is cloned from samples" in message and CLONE_REFUSAL in message
    v1 = piper.v1([{"text": "Hello.", "voice": voice}])
    assert v1.status_code == 400 and CLONE_REFUSAL in v1.json()["error"]


def test_bad_requests_are_400s(piper: TtsClient) -> None:
    german = piper.stream({"text": "Guten Tag, wie geht es Ihnen?", "language": "de"})
    assert german.status == 400 and "supported: en" in german.json()["error"]
    unknown = piper.stream({"text": "Hello.", "voice": "nobody"})
    assert unknown.status == 400 and f"available voices: {VOICE}" in unknown.json()["error"]


def test_a_mismatched_engine_exits_1_with_the_reason(random_voice: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "voicestack_predictors.tts",
        "--enable_grpc",
        "false",
        "--http_port",
        str(free_port()),
    ]
    command += ["--http_host", "127.0.0.1", "--model", str(random_voice), "--engine", "xtts"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "is a Piper voice; use --engine piper (or auto)" in done.stderr
