"""How the operator is started: ``kopf run -m voicestack_operator`` and ``voicestack operator``, liveness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from unittest import mock

import kopf
import pytest

from tests.operator.cluster import Cluster, wait_for
from tests.operator.test_operator import Operator
from voicestack_operator.handlers import register
from voicestack_operator.settings import OperatorSettings


def test_importing_registers_nothing_and_reads_no_environment() -> None:
    """In a fresh interpreter: importing every operator module leaves Kopf's default registry empty, even
    with a setting that :class:`OperatorSettings` would refuse (it is read only when the operator starts)."""
    code = (
        "import pkgutil, importlib, kopf, voicestack_operator\n"
        "for m in pkgutil.walk_packages(voicestack_operator.__path__, 'voicestack_operator.'):\n"
        "    importlib.import_module(m.name)\n"
        "r = kopf.get_default_registry()\n"
        "found = [*r._changing.get_all_handlers(), *r._watching.get_all_handlers(),"
        " *r._spawning.get_all_handlers(), *r._activities.get_all_handlers()]\n"
        "print([h.id for h in found if h.fn.__module__.startswith('voicestack')])\n"
    )
    env = {**os.environ, "VOICESTACK_RESYNC_SECONDS": "not-a-number"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_operator_needs_nothing_its_image_lacks() -> None:
    """The operator image holds voicestack/ and operator/ with the operator extra (its Dockerfile): every
    operator module imports, and the predictors' env is built (from the settings models in
    voicestack.contracts), with the predictors' package and their engines' libraries unimportable."""
    code = (
        "import sys, importlib, pkgutil\n"
        "class Absent:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED: raise ImportError(f'not in the operator image: {name}')\n"
        "BLOCKED = {'voicestack_predictors', 'voicestack_router', 'kserve', 'av', 'numpy', 'torch',"
        " 'fastapi'}\n"
        "sys.meta_path.insert(0, Absent())\n"
        "import voicestack_operator\n"
        "for m in pkgutil.walk_packages(voicestack_operator.__path__, 'voicestack_operator.'):\n"
        "    importlib.import_module(m.name)\n"
        "from voicestack_operator.manifests.isvc import asr_env, tts_env\n"
        "from voicestack_operator.spec import normalize\n"
        "spec = normalize({'tts': {'voiceAliases': {'alloy': 'anna'}}})\n"
        "print(sorted(e['name'] for e in asr_env(spec.asr) + tts_env(spec.tts)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "'ASR_MODEL'" in done.stdout and "'TTS_VOICE_ALIASES'" in done.stdout, done.stdout


def test_register_fills_the_given_registry() -> None:
    registry = register(kopf.OperatorRegistry(), OperatorSettings(resync_seconds=7))
    changing = [h.id for h in registry._changing.get_all_handlers()]
    assert changing.count("stack_changed") == 3 and "stack_deleted" in changing  # resume, create, update
    watching = {h.id for h in registry._watching.get_all_handlers()}
    assert {"child-inferenceservices", "child-deployments", "voice_event"} <= watching, watching
    (timer,) = registry._spawning.get_all_handlers()
    assert (timer.id, timer.interval) == ("resync", 7)


def test_cli_runs_kopf_with_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicestack.cli import main as cli_main

    monkeypatch.setattr("sys.argv", list(__import__("sys").argv))

    with mock.patch("kopf.run") as run:
        assert cli_main(["operator", "-n", "voices", "--liveness", "http://0.0.0.0:9090/healthz"]) == 0
    kwargs = run.call_args.kwargs
    assert kwargs["liveness_endpoint"] == "http://0.0.0.0:9090/healthz"
    assert kwargs["namespaces"] == ["voices"] and kwargs["clusterwide"] is False
    assert kwargs["standalone"] is True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_liveness_endpoint_answers(cluster: Cluster, operator: Operator) -> None:
    url = f"http://127.0.0.1:{free_port()}/healthz"
    with operator("--liveness", url):

        def alive() -> bool:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(alive, what="liveness endpoint")


@pytest.mark.parametrize("argv", [["--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from voicestack_operator.__main__ import main

    with pytest.raises(SystemExit):
        main(argv)
    assert "--liveness" in capsys.readouterr().out
