"""A real Kubernetes control plane on loopback, envtest-style: etcd, kube-apiserver, kube-controller-manager.

The binaries are Kubernetes' own, built from the pinned wrapper modules in ``tests/cluster/build/`` by
``scripts/build-control-plane.sh`` into ``.cache/control-plane/<version>/bin``. Everything else is made at
start in a temporary directory: a CA and serving/client certificates (``openssl``), the service-account
signing key, an admin kubeconfig (a client certificate in ``system:masters``). Authorisation is RBAC only,
so any other identity (the operator's ServiceAccount token) gets exactly what its roles grant.

There is no scheduler and no kubelet: pods are created and stay Pending. The controller manager runs the
garbage collector (ownerReferences), the namespace, service-account, Deployment and ReplicaSet controllers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "tests" / "cluster" / "build" / "kube" / "go.mod"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "helm")
CONTROLLERS = "garbagecollector,namespace,serviceaccount,deployment,replicaset"
START_TIMEOUT = 120.0


def kubernetes_version() -> str:
    """The pinned ``k8s.io/kubernetes`` release (the cache directory's name)."""
    found = re.search(r"^require k8s\.io/kubernetes (v\S+)$", WRAPPER.read_text(), re.MULTILINE)
    assert found, f"no pinned k8s.io/kubernetes in {WRAPPER}"
    return found.group(1)


def bin_dir() -> Path:
    """``VOICESTACK_CONTROL_PLANE_BIN``, else where scripts/build-control-plane.sh puts this version."""
    configured = os.environ.get("VOICESTACK_CONTROL_PLANE_BIN")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("VOICESTACK_CONTROL_PLANE_CACHE") or ROOT / ".cache" / "control-plane")
    return cache / kubernetes_version() / "bin"


def missing_binaries(directory: Path) -> list[str]:
    return [name for name in BINARIES if not os.access(directory / name, os.X_OK)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(pki: Path) -> None:
    """A CA, the apiserver's serving certificate (loopback), an admin client certificate, the SA key pair."""
    pki.mkdir(parents=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=voicestack-test-ca", cwd=pki)  # fmt: skip
    names = "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1"
    issue = {
        "apiserver": ("/CN=kube-apiserver", ["-addext", names]),
        "admin": ("/O=system:masters/CN=voicestack-test-admin", []),
    }
    for name, (subject, extra) in issue.items():
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subject, *extra, cwd=pki)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-copy_extensions", "copy", "-out", f"{name}.crt", cwd=pki)  # fmt: skip
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=pki)
    openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(server: str, ca: Path, user: dict[str, str], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "test", "user": name}}],
        "current-context": name,
    }


@dataclass
class ControlPlane:
    """A running control plane: its kubeconfig (admin), binaries and helpers to drive kubectl and helm."""

    bin: Path
    work: Path
    server: str = ""
    admin_kubeconfig: Path = field(init=False)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    start_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.admin_kubeconfig = self.work / "admin.kubeconfig"

    @property
    def pki(self) -> Path:
        return self.work / "pki"

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig or self.admin_kubeconfig)}
        env["HELM_CACHE_HOME"] = str(self.work / "helm" / "cache")  # helm writes nothing outside the run
        env["HELM_CONFIG_HOME"] = str(self.work / "helm" / "config")
        env["HELM_DATA_HOME"] = str(self.work / "helm" / "data")
        env.pop("KUBERNETES_SERVICE_HOST", None)
        return env

    def run(
        self,
        tool: str,
        *args: str,
        kubeconfig: Path | None = None,
        stdin: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl`` or ``helm`` (as admin unless ``kubeconfig``); ``check`` fails with its stderr."""
        done = subprocess.run(
            [str(self.bin / tool), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(kubeconfig),
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, **kwargs)

    def helm(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("helm", *args, **kwargs)

    def apply(self, *objects: dict[str, Any], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``kubectl apply`` of in-memory objects."""
        return self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects), **kwargs)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        scope = ["-n", namespace] if namespace else []
        done = self.kubectl("get", kind, name, *scope, "-o", "json", check=False)
        if done.returncode != 0:
            assert "NotFound" in done.stderr, done.stderr
            return None
        loaded = yaml.safe_load(done.stdout)
        assert isinstance(loaded, dict)
        return loaded

    def token_kubeconfig(self, namespace: str, service_account: str, path: Path) -> Path:
        """A kubeconfig holding a fresh token of the ServiceAccount (``kubectl create token``)."""
        token = self.kubectl("create", "token", service_account, "-n", namespace, "--duration", "1h").stdout
        user = {"token": token.strip()}
        config = kubeconfig(self.server, self.pki / "ca.crt", user, f"{namespace}-{service_account}")
        config["contexts"][0]["context"]["namespace"] = namespace
        path.write_text(yaml.safe_dump(config))
        return path

    # -- lifecycle ---------------------------------------------------------------------------------------

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log = (self.work / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(self.bin / name), *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.work / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _wait(self, name: str, ready: Any, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log_tail(name)}")
            if ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{self.log_tail(name)}")

    def start(self) -> None:
        started = time.monotonic()
        make_certificates(self.pki)
        pki = self.pki
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn("etcd", [
            "--name", "test", "--data-dir", str(self.work / "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ])  # fmt: skip
        self._wait("etcd", lambda: _answers(f"{etcd_url}/health"))
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn("kube-apiserver", [
            "--etcd-servers", etcd_url, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--endpoint-reconciler-type", "none",  # a loopback address cannot back the kubernetes Service
            "--secure-port", str(api_port), "--cert-dir", str(self.work / "apiserver-certs"),
            "--tls-cert-file", str(pki / "apiserver.crt"),
            "--tls-private-key-file", str(pki / "apiserver.key"),
            "--client-ca-file", str(pki / "ca.crt"),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24", "--allow-privileged=true",
            "--disable-admission-plugins", "ServiceAccount",  # no token controller: pods need no token Secret
        ])  # fmt: skip
        admin = {
            "client-certificate": str(pki / "admin.crt"),
            "client-key": str(pki / "admin.key"),
        }
        self.admin_kubeconfig.write_text(
            yaml.safe_dump(kubeconfig(self.server, pki / "ca.crt", admin, "admin"))
        )
        self._wait("kube-apiserver", self._apiserver_ready)
        self._spawn("kube-controller-manager", [
            "--kubeconfig", str(self.admin_kubeconfig),
            "--authentication-kubeconfig", str(self.admin_kubeconfig),
            "--authorization-kubeconfig", str(self.admin_kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()),
            "--cert-dir", str(self.work / "controller-manager-certs"),
            "--controllers", CONTROLLERS, "--leader-elect=false",
            "--concurrent-gc-syncs", "5",
        ])  # fmt: skip
        self._wait("kube-controller-manager", lambda: self._default_service_account("default"))
        self.start_seconds = time.monotonic() - started

    def _apiserver_ready(self) -> bool:
        done = subprocess.run(
            [str(self.bin / "kubectl"), "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            env=self.env(),
        )
        return done.returncode == 0 and done.stdout.strip() == "ok"

    def _default_service_account(self, namespace: str) -> bool:
        """The service-account controller made ``default`` in ``namespace``: the controller manager works."""
        return self.get("serviceaccount", "default", namespace) is not None

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status) == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_control_plane(bin_path: Path, work: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(bin=bin_path, work=work)
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()


def decode_token_subject(token: str) -> str:
    """The ``sub`` claim of a service-account JWT (which identity a kubeconfig's token is)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])
