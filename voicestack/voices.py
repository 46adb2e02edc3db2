"""Voice names the predictors and the router agree on (pure Python: the router image has no torch)."""

from __future__ import annotations

# OpenAI's voice names: the TTS predictor aliases each one it has no mapping for to its default voice.
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx",
    "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
DEFAULT_VOICE = "default"  # the one built-in speaker of a single-speaker coqui model
# An uploaded voice of one of these names would silently take the built-in voice's or the alias's place.
RESERVED_VOICE_NAMES = frozenset({DEFAULT_VOICE, *OPENAI_VOICES})
