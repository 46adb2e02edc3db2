"""A real Kubernetes control plane on loopback, envtest-style: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, and kwok playing the kubelet of two fake node pools.

The binaries are Kubernetes' own (and kwok's), built from the pinned wrapper modules in
``tests/cluster/build/`` by ``scripts/build-control-plane.sh`` into ``.cache/control-plane/<version>/bin``.
Everything else is made at start in a temporary directory: a CA and serving/client certificates
(``openssl``), the service-account signing key, an admin kubeconfig (a client certificate in
``system:masters``). Authorisation is RBAC only, so any other identity (the operator's ServiceAccount token)
gets exactly what its roles grant.

The controller manager runs the garbage collector (ownerReferences), the namespace, service-account,
Deployment and ReplicaSet controllers. The real scheduler places pods on two Node objects that kwok manages
(:data:`NODE_POOLS`): a GPU node tainted ``nvidia.com/gpu=present:NoSchedule`` with one ``nvidia.com/gpu``,
and a CPU node. kwok fakes what a kubelet would report (node Ready, a scheduled pod Running and Ready, a
deleted pod gone) with its own default stages; no container runs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import ssl
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
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "helm",
    "kwok",
    "kserve-controller",
)
KWOK_STAGES = "kwok-stages.yaml"  # kwok's default node/pod lifecycle, written beside the binaries
KWOK_ANNOTATION = "kwok.x-k8s.io/node"  # kwok manages the nodes with this annotation (value "fake")
POOL_LABEL = "voicestack.io/test-pool"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
CONTROLLERS = "garbagecollector,namespace,serviceaccount,deployment,replicaset"
START_TIMEOUT = 120.0
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],  # one record per request, when its response is complete
    "rules": [
        {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
        {"level": "Metadata", "verbs": list(WRITE_VERBS)},
        # ServiceAccounts' reads too (the operator's, a router's, KServe's; the controller manager, scheduler
        # and kwok are admin): a test can tell "reconciled and wrote nothing" from "did not run", and see
        # every verb used
        {"level": "Metadata", "verbs": ["get", "list"], "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class AuditRecord:
    """One request from the API server's audit log: who did what to which object, and the answer."""

    verb: str
    user: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    message: str = ""  # the answer's message, on a failure

    @property
    def denied(self) -> bool:
        """Refused to who asked (a 401, or a 403 of the authoriser or an admission policy), not for a
        namespace being deleted (also a 403, the lifecycle admission of a namespace a test left behind)."""
        return self.code == 401 or (self.code == 403 and "because it is being terminated" not in self.message)

    @classmethod
    def parse(cls, line: str) -> AuditRecord:
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        status = event.get("responseStatus") or {}
        return cls(
            verb=event["verb"],
            user=event["user"]["username"],
            resource=ref.get("resource", ""),
            subresource=ref.get("subresource", ""),
            namespace=ref.get("namespace", ""),
            name=ref.get("name", ""),
            code=int(status.get("code", 0)),
            message=str(status.get("message", "")),
        )


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
    missing = [name for name in BINARIES if not os.access(directory / name, os.X_OK)]
    files = (KWOK_STAGES, f"{KSERVE_FILES}/inferenceservice-config.yaml", f"{KSERVE_FILES}/rbac/role.yaml")
    return missing + [name for name in files if not (directory / name).is_file()]


KSERVE = "kserve-controller"  # KServe's cmd/manager (KSERVE_FILES beside it), started by start_kserve()
KSERVE_FILES = "kserve"  # KServe's CRDs, inferenceservice-config ConfigMap and RBAC from the pinned module
KSERVE_NAMESPACE = "kserve"


def fake_node(name: str, pool: str, capacity: dict[str, str], taints: list[dict[str, str]]) -> dict[str, Any]:
    """A Node object kwok manages: it declares its capacity, kwok reports it Ready."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok",
                       POOL_LABEL: pool},
        },
        "spec": {"taints": taints},
        "status": {"capacity": capacity, "allocatable": capacity},
    }  # fmt: skip


CPU_CAPACITY = {"cpu": "16", "memory": "64Gi", "pods": "110"}
NODE_POOLS = {
    "gpu": fake_node("gpu-node-0", "gpu", {**CPU_CAPACITY, "nvidia.com/gpu": "1"}, [GPU_TAINT]),
    "cpu": fake_node("cpu-node-0", "cpu", CPU_CAPACITY, []),
}


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

    @property
    def audit_log(self) -> Path:
        return self.work / "audit.log"

    def mark(self) -> int:
        """A position in the audit log; :meth:`audit` and :meth:`writes` read from one."""
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit(self, since: int = 0) -> list[AuditRecord]:
        """The audit log's records from ``since`` (a :meth:`mark`), complete lines only."""
        if not self.audit_log.exists():
            return []
        with self.audit_log.open("rb") as log:
            log.seek(max(since - 1, 0))
            data = log.read()
        if since and not data.startswith(b"\n"):  # the mark fell inside a record being written: skip it
            data = data.partition(b"\n")[2]
        elif since:
            data = data[1:]
        lines = data.decode().splitlines(keepends=True)
        return [AuditRecord.parse(line) for line in lines if line.endswith("\n")]

    def writes(self, user: str, since: int = 0, namespace: str | None = None) -> list[AuditRecord]:
        """The write requests ``user`` made since a mark (in ``namespace``, if given), in order."""
        return [
            record
            for record in self.audit(since)
            if record.user == user
            and record.verb in WRITE_VERBS
            and (namespace is None or record.namespace == namespace)
        ]

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

    def _spawn(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        log = (self.work / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(self.bin / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
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
        policy = self.work / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
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
            # ServiceAccount: no token controller, so pods need no token Secret. TaintNodesByCondition:
            # it taints each new Node not-ready until the node-lifecycle controller (not run) lifts it.
            "--disable-admission-plugins", "ServiceAccount,TaintNodesByCondition",
            "--audit-policy-file", str(policy), "--audit-log-path", str(self.audit_log),
            "--audit-log-mode", "blocking",  # a record is on disk before its response is sent
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
        scheduler_port = free_port()
        self._spawn("kube-scheduler", [
            "--kubeconfig", str(self.admin_kubeconfig),
            "--authentication-kubeconfig", str(self.admin_kubeconfig),
            "--authorization-kubeconfig", str(self.admin_kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(scheduler_port),
            "--cert-dir", str(self.work / "scheduler-certs"), "--leader-elect=false",
        ])  # fmt: skip
        self._wait("kube-scheduler", lambda: _answers(f"https://127.0.0.1:{scheduler_port}/readyz"))
        self._spawn("kwok", [
            "--kubeconfig", str(self.admin_kubeconfig), "--config", str(self.bin / KWOK_STAGES),
            "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", f"{KWOK_ANNOTATION}=fake",
            "--cidr", "10.0.128.0/17", "--node-ip", "127.0.0.1", "--node-lease-duration-seconds", "0",
        ])  # fmt: skip
        self.apply(*NODE_POOLS.values())
        for node in NODE_POOLS.values():
            self._wait("kwok", lambda node=node: self._node_ready(node["metadata"]["name"]))
        self.start_seconds = time.monotonic() - started

    def _apiserver_ready(self) -> bool:
        done = subprocess.run(
            [str(self.bin / "kubectl"), "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            env=self.env(),
        )
        return done.returncode == 0 and done.stdout.strip() == "ok"

    def start_kserve(self) -> str:
        """KServe's own controller in Standard (raw deployment) mode, its webhooks unregistered, under its own
        RBAC: the token of KServe's ServiceAccount bound to its ClusterRole (``config/rbac`` of the module).

        Its ConfigMap is KServe's shipped one with ``defaultDeploymentMode: Standard``; the CRDs its other
        controllers watch (TrainedModel, InferenceGraph) come from the same module. Its webhook server must
        start (the manager's readiness), so it gets a self-signed certificate under ``$TMPDIR`` (the path
        controller-runtime reads), but no webhook configuration points the API server at it. Returns the
        controller's user name, as the audit log names it.
        """
        files = self.bin / KSERVE_FILES
        for crd in sorted((files / "crds").glob("*.yaml")):
            self.kubectl("apply", "--server-side", "-f", str(crd))
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KSERVE_NAMESPACE}})
        kubeconfig = self._kserve_identity(files / "rbac")
        config = yaml.safe_load((files / "inferenceservice-config.yaml").read_text())
        config["data"]["deploy"] = json.dumps({"defaultDeploymentMode": "Standard"})
        self.apply(config)
        tmp = self.work / "kserve-tmp"
        certs = tmp / "k8s-webhook-server" / "serving-certs"
        certs.mkdir(parents=True, exist_ok=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.crt",
                "-days", "2", "-subj", "/CN=kserve-webhook", cwd=certs)  # fmt: skip
        probe = free_port()
        environment = {**self.env(kubeconfig), "TMPDIR": str(tmp), "POD_NAMESPACE": KSERVE_NAMESPACE}
        self._spawn(KSERVE, [
            "--metrics-addr", "0", "--health-probe-addr", f"127.0.0.1:{probe}",
            "--webhook-port", str(free_port()), "--leader-elect=false",
        ], env=environment)  # fmt: skip
        self._wait(KSERVE, lambda: _answers(f"http://127.0.0.1:{probe}/readyz"))
        return decode_token_subject(yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"])

    def _kserve_identity(self, rbac: Path) -> Path:
        """KServe's manager ServiceAccount (in :data:`KSERVE_NAMESPACE`, where its kustomization puts it),
        ClusterRole and ClusterRoleBinding, applied as shipped; a kubeconfig with the account's token."""
        account = yaml.safe_load((rbac / "service_account.yaml").read_text())
        account["metadata"]["namespace"] = KSERVE_NAMESPACE
        binding = yaml.safe_load((rbac / "role_binding.yaml").read_text())
        for subject in binding["subjects"]:
            subject["namespace"] = KSERVE_NAMESPACE
        self.apply(account, yaml.safe_load((rbac / "role.yaml").read_text()), binding)
        name = account["metadata"]["name"]
        return self.token_kubeconfig(KSERVE_NAMESPACE, name, self.work / "kserve.kubeconfig")

    def _node_ready(self, name: str) -> bool:
        """kwok reports the node Ready (its node-initialize stage)."""
        conditions = ((self.get("node", name) or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _default_service_account(self, namespace: str) -> bool:
        """The service-account controller made ``default`` in ``namespace``: the controller manager works."""
        return self.get("serviceaccount", "default", namespace) is not None

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_process(name)


def _answers(url: str) -> bool:
    """``url`` answers 200; an https one is not verified (a component's own self-signed serving cert)."""
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
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
