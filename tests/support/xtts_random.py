"""A random-weight Coqui XTTS-v2 checkpoint in the real file layout, for tests and benchmarks.

No real XTTS weights can be downloaded here, so this builds a directory with ``config.json``, ``model.pth``
and ``vocab.json`` that ``Xtts.load_checkpoint`` loads like the real one: a tiny GPT (1 layer, 64
channels) and a BPE vocabulary trained with ``tokenizers`` on the shared reference transcripts plus the
language tokens. The HiFi-GAN decoder and the speaker encoder keep their fixed sizes (about 92 MB).

A random GPT almost never samples the stop token, so every sentence would run to the maximum length (and a
raised stop bias gives wildly varying lengths). Instead one channel of the audio position embedding ramps
from very negative to very positive around position ``TOKENS_PER_SENTENCE`` and the stop token's output
row reads only that channel: every generated sentence ends after that many audio tokens (about 2.2 s),
which keeps tests fast and their timing predictable. Audio content is noise: assert on formats, lengths
and timing, never on words.

Built once per ``VERSION`` into ``<repo>/.cache/xtts-random-<VERSION>/`` (git-ignored).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.assets import PROJECT_ROOT, assets_root

VERSION = "v1"
LANGUAGES = [
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi",
]  # fmt: skip
SPECIAL_TOKENS = ["[STOP]", "[UNK]", "[SPACE]", "[START]", *(f"[{lang}]" for lang in LANGUAGES)]
VOCAB_SIZE = 512
TOKENS_PER_SENTENCE = 48  # one GPT audio token is 1024 samples at 22.05 kHz: about 2.2 s per sentence
MAX_AUDIO_TOKENS = 2 * TOKENS_PER_SENTENCE
SEED = 1234


def default_cache_dir() -> Path:
    return Path(os.environ.get("VOICESTACK_CACHE_DIR", PROJECT_ROOT / ".cache"))


def _training_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(assets_root().rglob("*.txt"))]
    # The tokenizer sees text after XTTS's cleaners: lower case, spaces as [SPACE].
    texts.append("the quick brown fox jumps over the lazy dog 0123456789 .,;:!?'\"-")
    return [t.lower().replace(" ", "[SPACE]") for t in texts if t.strip()]


def _train_vocab(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(_training_texts(), trainer=trainer)
    tokenizer.save(str(path))


def _build(target: Path) -> None:
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    torch.manual_seed(SEED)
    _train_vocab(target / "vocab.json")
    vocab = json.loads((target / "vocab.json").read_text())["model"]["vocab"]

    config = XttsConfig()
    config.languages = list(LANGUAGES)
    args = config.model_args
    args.gpt_layers = 1
    args.gpt_n_model_channels = 64
    args.gpt_n_heads = 2
    args.decoder_input_dim = 64
    args.gpt_use_perceiver_resampler = True
    args.gpt_max_audio_tokens = MAX_AUDIO_TOKENS
    args.gpt_number_text_tokens = max(vocab.values()) + 1
    args.gpt_start_text_token = vocab["[START]"]
    args.gpt_stop_text_token = vocab["[STOP]"]
    model = Xtts(config)
    with torch.no_grad():
        positions = model.gpt.mel_pos_embedding.emb.weight
        positions[:, 0] = torch.arange(positions.shape[0], dtype=positions.dtype) - TOKENS_PER_SENTENCE + 0.5
        stop = args.gpt_stop_audio_token
        model.gpt.mel_head.weight[stop] = 0.0
        model.gpt.mel_head.weight[stop, 0] = 4.0
        model.gpt.mel_head.bias[stop] = 0.0
    torch.save({"model": model.state_dict()}, target / "model.pth")
    config.model_args.tokenizer_file = ""
    (target / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    (target / "README.txt").write_text(
        f"Random-weight XTTS-v2 ({VERSION}) built by tests/support/xtts_random.py. Output is noise.\n"
    )


def build_random_xtts(cache_dir: Path | None = None) -> Path:
    """The random XTTS model directory, built on first use (safe across concurrent processes)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"xtts-random-{VERSION}"
    if (target / "model.pth").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".xtts-random-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.pth").is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".xtts-random-{VERSION}-", dir=root))
        try:
            _build(staging)
            staging.chmod(0o755)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def random_xtts() -> Path:
    """Session fixture: the random XTTS directory (``config.json``, ``model.pth``, ``vocab.json``)."""
    return build_random_xtts()
