"""Every JSON and SSE body the router's OpenAI routes answer, checked against the ``openai`` SDK's own types.

A body must validate as the SDK type and carry no field the type lacks (``ALLOWED_EXTRAS`` lists the
documented exceptions). Where the SDK has a method, the call goes through it; ``SDK_AUDIO_METHODS`` lists
every audio method the installed SDK has, each served or deliberately refused, and a test fails when the SDK
gains one this table does not name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from openai._resource import SyncAPIResource
from openai.types import Model
from openai.types.audio import (
    Transcription,
    TranscriptionStreamEvent,
    TranscriptionVerbose,
    Translation,
    TranslationVerbose,
    Voice,
    VoiceConsent,
    VoiceConsentDeleted,
    VoiceDeleted,
)
from pydantic import BaseModel, TypeAdapter

from tests.router.conftest import API_KEY, Running
from tests.support.assets import asset

AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Fields the SDK's types leave out: verbose_json's task (OpenAI's real API sends it), and the router's
# documented additions to a model (its predictor's model name and what it can do, docs/router.md).
ALLOWED_EXTRAS = {"TranscriptionVerbose.task", "TranslationVerbose.task", "Model.root", "Model.capabilities"}


def extras(value: Any, where: str = "") -> set[str]:
    """``Type.field`` for every field a parsed SDK object holds that its type does not declare."""
    found: set[str] = set()
    if isinstance(value, BaseModel):
        name = type(value).__name__
        found |= {f"{name}.{key}" for key in value.model_extra or {}}
        for key in type(value).model_fields:
            found |= extras(getattr(value, key), f"{name}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= extras(item, where)
    return found


def conform(sdk_type: Any, body: Any) -> Any:
    """``body`` parsed as ``sdk_type``; fails on a missing or mistyped field, or an undeclared one."""
    parsed = TypeAdapter(sdk_type).validate_python(body)
    unexpected = extras(parsed) - ALLOWED_EXTRAS
    assert not unexpected, f"fields the SDK's {sdk_type} does not have: {unexpected} in {body}"
    return parsed


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: ") :]))
    return events


def post_transcription(
    router: Running, path: Path, route: str = "transcriptions", **fields: Any
) -> httpx.Response:
    with path.open("rb") as audio:
        return httpx.post(
            f"{router.url}/v1/audio/{route}",
            headers=AUTH,
            files={"file": (path.name, audio, "audio/wav")},
            data={"model": "whisper-1", "temperature": "0", **fields},
            timeout=120,
        )


# --- transcriptions and translations -------------------------------------------------------------------


def test_json_transcription_with_usage_logprobs_and_languages(router: Running, short_wav: Path) -> None:
    response = post_transcription(router, short_wav, **{"include[]": "logprobs", "languages[]": ["de", "en"]})
    assert response.status_code == 200, response.text
    parsed = conform(Transcription, response.json())
    assert parsed.usage is not None and parsed.usage.type == "duration"
    assert parsed.usage.seconds == pytest.approx(2.5, abs=0.05)
    assert parsed.languages and parsed.languages[0].code in {"de", "en"}  # only a candidate can win
    assert parsed.logprobs, "include[]=logprobs gives the tokens"
    for entry in parsed.logprobs:
        assert entry.logprob is not None and entry.logprob <= 0.0
        assert bytes(int(b) for b in entry.bytes or []).decode("utf-8", errors="replace") == entry.token


def test_sdk_json_transcription(client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=audio, temperature=0, include=["logprobs"], languages=["en"],
            keywords=["Americans"], chunking_strategy={"type": "server_vad", "threshold": 0.4,
                                                       "silence_duration_ms": 300, "prefix_padding_ms": 200},
        )  # fmt: skip
    conform(Transcription, result.model_dump(exclude_unset=True))
    assert result.languages is not None and [language.code for language in result.languages] == ["en"]
    assert result.logprobs is not None and result.usage is not None


def test_verbose_json_and_translations(router: Running, short_wav: Path) -> None:
    verbose = post_transcription(
        router,
        short_wav,
        response_format="verbose_json",
        **{"timestamp_granularities[]": ["word", "segment"]},
    )
    parsed = conform(TranscriptionVerbose, verbose.json())
    assert parsed.usage is not None and parsed.words is not None and parsed.segments is not None
    translated = post_transcription(router, short_wav, route="translations")
    conform(Translation, translated.json())
    translated_verbose = post_transcription(
        router, short_wav, route="translations", response_format="verbose_json"
    )
    conform(TranslationVerbose, translated_verbose.json())


def test_streamed_transcription_events(router: Running, short_wav: Path) -> None:
    response = post_transcription(
        router, short_wav, stream="true", **{"include[]": "logprobs", "languages[]": "en"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [conform(TranscriptionStreamEvent, event) for event in sse_events(response)]
    assert events and events[-1].type == "transcript.text.done"
    done = events[-1]
    assert done.usage is not None and done.usage.input_tokens == 125  # 2.5 s, 50 audio tokens a second
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
    assert done.languages is not None and [language.code for language in done.languages] == ["en"]
    deltas = [event for event in events if event.type == "transcript.text.delta"]
    streamed = [entry.model_dump() for delta in deltas for entry in delta.logprobs or []]
    assert done.logprobs and [entry.model_dump() for entry in done.logprobs] == streamed


def test_sdk_stream(client: openai.OpenAI, short_wav: Path) -> None:
    with short_wav.open("rb") as audio:
        events = list(client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True))
    for event in events:
        conform(TranscriptionStreamEvent, event.model_dump(exclude_unset=True))
    assert events[-1].type == "transcript.text.done"


def test_unknown_fields_are_ignored(router: Running, short_wav: Path) -> None:
    response = post_transcription(router, short_wav, future_field="x", **{"something[]": ["a", "b"]})
    assert response.status_code == 200, response.text
    conform(Transcription, response.json())


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"response_format": "diarized_json"}, "response_format", "unsupported_feature"),
        ({"known_speaker_names[]": "agent"}, "known_speaker_names", "unsupported_feature"),
        ({"known_speaker_references[]": "data:audio/wav;base64,AAAA"}, "known_speaker_references",
         "unsupported_feature"),
        ({"include[]": "logprobs", "response_format": "text"}, "include", "invalid_value"),
        ({"include[]": "tokens"}, "include", "invalid_value"),
        ({"languages[]": "klingon"}, "languages", "unsupported_language"),
        ({"chunking_strategy": "manual"}, "chunking_strategy", "invalid_value"),
        ({"chunking_strategy[type]": "client_vad"}, "chunking_strategy", "invalid_value"),
        ({"chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "2"}, "chunking_strategy",
         "invalid_value"),
        ({"chunking_strategy": '{"type": "server_vad", "silence_ms": 5}'}, "chunking_strategy",
         "invalid_value"),
        ({"keywords[]": ["x" * 201]}, "keywords", "invalid_value"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(
    router: Running, short_wav: Path, fields: dict[str, Any], param: str, code: str
) -> None:
    response = post_transcription(router, short_wav, **fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error"), error
    if code == "unsupported_feature":
        assert "not supported by this server" in error["message"]


def test_chunking_strategy_as_json_and_auto(router: Running, short_wav: Path) -> None:
    for strategy in ("auto", '{"type": "server_vad", "threshold": 0.5}'):
        response = post_transcription(router, short_wav, chunking_strategy=strategy)
        assert response.status_code == 200, response.text
        conform(Transcription, response.json())


# --- speech --------------------------------------------------------------------------------------------


class SpeechUsage(BaseModel, extra="forbid"):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDelta(BaseModel, extra="forbid"):
    """``speech.audio.delta`` as OpenAI's API reference describes it (the installed SDK types no speech
    events: its ``speech.create`` returns the raw body)."""

    type: Literal["speech.audio.delta"]
    audio: str


class SpeechAudioDone(BaseModel, extra="forbid"):
    type: Literal["speech.audio.done"]
    usage: SpeechUsage


def test_speech_sse_events(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello there. How are you?", stream_format="sse",
        response_format="pcm", instructions="Speak cheerfully.",
    ) as response:  # fmt: skip
        body = response.read().decode()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    deltas = [SpeechAudioDelta.model_validate(event) for event in events[:-1]]
    done = SpeechAudioDone.model_validate(events[-1])
    pcm = b"".join(base64.b64decode(delta.audio) for delta in deltas)
    assert len(pcm) > 24000 * 2 // 5  # more than 0.2 s of 24 kHz s16le
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens


# --- the SDK's audio surface ---------------------------------------------------------------------------


def _voices_and_consents(client: openai.OpenAI) -> None:
    """A consent record's whole life through the SDK, and a voice created against it: the consent cannot
    be deleted while the voice exists (409), and can once it is gone."""
    with asset("audio/en/jfk.wav").open("rb") as recording:
        consent = client.audio.voice_consents.create(name="Jack", language="en-US", recording=recording)
    conform(VoiceConsent, consent.model_dump(exclude_unset=True))
    assert (consent.name, consent.language, consent.object) == ("Jack", "en-US", "audio.voice_consent")
    assert client.audio.voice_consents.retrieve(consent.id) == consent
    renamed = client.audio.voice_consents.update(consent.id, name="John F. Kennedy")
    conform(VoiceConsent, renamed.model_dump(exclude_unset=True))
    assert renamed.name == "John F. Kennedy" and renamed.id == consent.id
    with asset("audio/en/jfk.wav").open("rb") as recording:
        other = client.audio.voice_consents.create(name="Other", language="de", recording=recording)
    listed = {record.id: record for record in client.audio.voice_consents.list()}
    assert listed[consent.id].name == "John F. Kennedy" and other.id in listed
    paged = [record.id for record in client.audio.voice_consents.list(limit=1)]  # the SDK follows `after`
    assert paged == list(listed) and len(paged) >= 2
    voices = client.get("/audio/voices", cast_to=object)
    assert isinstance(voices, dict)
    assert not {consent.id, other.id, ".consents"} & {voice["name"] for voice in voices["data"]}
    client.audio.voice_consents.delete(other.id)
    with asset("audio/en/jfk.wav").open("rb") as sample:
        voice = client.audio.voices.create(name="conformance", audio_sample=sample, consent=consent.id)
    conform(Voice, voice.model_dump(exclude_unset=True))
    with pytest.raises(openai.ConflictError) as refused:
        client.audio.voice_consents.delete(consent.id)
    assert "conformance" in str(refused.value)
    deleted = client.audio.voices.delete(voice.id)
    conform(VoiceDeleted, deleted.model_dump(exclude_unset=True))
    assert deleted.deleted and deleted.id == "conformance"
    gone = client.audio.voice_consents.delete(consent.id)
    conform(VoiceConsentDeleted, gone.model_dump(exclude_unset=True))
    assert gone.deleted and gone.id == consent.id
    for unknown in (consent.id, "not-a-consent-id"):
        with pytest.raises(openai.NotFoundError) as missing:
            client.audio.voice_consents.retrieve(unknown)
        assert isinstance(missing.value.body, dict) and missing.value.body["code"] == "consent_not_found"


def _transcribe(client: openai.OpenAI) -> None:
    with asset("audio/en/jfk.wav").open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio, temperature=0)
    conform(Transcription, result.model_dump(exclude_unset=True))


def _translate(client: openai.OpenAI) -> None:
    with asset("audio/en/jfk.wav").open("rb") as audio:
        result = client.audio.translations.create(model="whisper-1", file=audio, temperature=0)
    conform(Translation, result.model_dump(exclude_unset=True))


def _speak(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.", response_format="wav")
    assert audio.read()[:4] == b"RIFF"


# Every public method of client.audio.*: served (a check through the SDK) or refused (a typed error).
SDK_AUDIO_METHODS: dict[str, Callable[[openai.OpenAI], None]] = {
    "transcriptions.create": _transcribe,
    "translations.create": _translate,
    "speech.create": _speak,
    "voices.create": _voices_and_consents,
    "voices.delete": _voices_and_consents,
    "voice_consents.create": _voices_and_consents,
    "voice_consents.retrieve": _voices_and_consents,
    "voice_consents.update": _voices_and_consents,
    "voice_consents.list": _voices_and_consents,
    "voice_consents.delete": _voices_and_consents,
}
DRIVERS = {driver.__name__: driver for driver in SDK_AUDIO_METHODS.values()}


def sdk_audio_methods(client: openai.OpenAI) -> Iterator[str]:
    audio = client.audio
    for resource_name in dir(audio):
        resource = getattr(audio, resource_name)
        if resource_name.startswith("_") or not isinstance(resource, SyncAPIResource):
            continue
        for method in dir(resource):
            if method.startswith("_") or method.startswith("with_"):
                continue
            if callable(getattr(resource, method)):
                yield f"{resource_name}.{method}"


def test_every_sdk_audio_method_is_served_or_refused() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="unused")
    assert set(sdk_audio_methods(client)) == set(SDK_AUDIO_METHODS), (
        "the installed openai SDK's audio methods changed: serve or refuse the new ones in SDK_AUDIO_METHODS"
    )


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_sdk_audio_methods_work(client: openai.OpenAI, driver: str) -> None:
    DRIVERS[driver](client)


def test_prompt_voices_are_refused(client: openai.OpenAI) -> None:
    """``voices.create(type="prompt")`` (a voice from a text description) is refused with a typed error."""
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.voices.create(name="narrator", type="prompt", prompt="A warm, deep voice.")
    error = raised.value.body
    assert isinstance(error, dict) and (error["code"], error["param"]) == ("unsupported_feature", "type")
    assert "not supported by this server" in error["message"]


def test_models_are_sdk_models(client: openai.OpenAI) -> None:
    for model in client.models.list():
        conform(Model, model.model_dump(exclude_unset=True))
