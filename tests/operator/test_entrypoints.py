"""How the operator is started: ``kopf run -m voicestack_operator`` and ``voicestack operator``, liveness."""

from __future__ import annotations

import socket
import urllib.request
from unittest import mock

import kopf
import pytest

from tests.operator.cluster import Cluster, wait_for
from tests.operator.test_operator import Operator


def test_import_registers_the_handlers() -> None:
    import voicestack_operator  # noqa: F401

    registry = kopf.get_default_registry()
    changing = [h.id for h in registry._changing.get_all_handlers()]
    assert changing.count("stack_changed") == 3 and "stack_deleted" in changing  # resume, create, update
    watching = {h.id for h in registry._watching.get_all_handlers()}
    assert {"child-inferenceservices", "child-deployments", "voice_event"} <= watching, watching
    assert [h.id for h in registry._spawning.get_all_handlers()] == ["resync"]


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
