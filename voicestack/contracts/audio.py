"""Audio formats on the wire between the router and the predictors."""

from __future__ import annotations

ASR_SAMPLE_RATE = 16000  # Whisper's rate: raw PCM sent to the ASR predictor is s16le mono at this rate
# The longest audio a predictor decodes when nothing names a limit (ASR_MAX_AUDIO_SECONDS' default): longer
# than any film.
DEFAULT_MAX_SECONDS = 4 * 3600.0
PCM_SAMPLE_WIDTH = 2  # bytes per s16le sample
ASR_PCM_BYTES_PER_SECOND = PCM_SAMPLE_WIDTH * ASR_SAMPLE_RATE
PCM_CONTENT_TYPE = (
    "audio/pcm"  # raw s16le mono (to the ASR predictor at 16 kHz; from the TTS one at X-Sample-Rate)
)
