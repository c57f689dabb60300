"""Faults on a running cluster: the desk behind ``kubemu fault`` and the apiserver's admin endpoint.

``kubemu up`` runs a ``FaultDesk`` beside the cluster. The apiserver serves ``/kubemu/v1/actors`` (GET: every
actor, its host and state) and ``/kubemu/v1/faults`` (GET: every fault so far; POST: inject or heal one) to
cluster-admins only (they are non-resource URLs, which only ``cluster-admin`` and ``system:masters`` may
use) and relays each request to the desk, which long-polls the apiserver for them (``next_admin_request``)
so the relay works on both backends: the desk is not an actor and needs no address.

A POST body is a fault as ``FaultEvent`` describes it::

    {"kind": "kill", "targets": ["store-leader"]}
    {"kind": "partition", "params": {"sources": ["store-0"], "destinations": ["store-1", "store-2"]}}
    {"kind": "delay", "params": {"sources": ["apiserver-0"], "destinations": ["store-*"], "delay": 0.2}}
    {"kind": "drop", "params": {"sources": ["a"], "destinations": ["b"], "probability": 0.5}}
    {"kind": "heal"}  /  {"kind": "heal", "params": {"rule": 3}}

``store-leader`` stands for whichever store member leads at that moment. Every fault is recorded with its
cluster time in the runtime's fault log and as a core/v1 Event in ``kube-system`` (reason
``FaultInjected``), so ``kubectl get events -n kube-system`` shows it.

``client_request`` is the CLI side: it reads a kubeconfig (server, CA, client certificate) and calls the
endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from typing import Any

from actors.runtime import errors as runtime_errors
from actors.runtime.faults import FaultEvent, FaultKind
from actors.runtime.system import ActorSystem
from kube import codec, meta

log = logging.getLogger("kubemu.chaos.fault_desk")

STORE_LEADER = "store-leader"


class FaultDesk:
    """Serves the apiserver's admin requests with the system's fault API (see the module docstring)."""

    def __init__(
        self, system: ActorSystem, *, apiserver: str = "apiserver-0", store_members: list[str]
    ) -> None:
        self.system = system
        self.apiserver = system.ref(apiserver)
        self.store_members = store_members
        self._events = 0
        self._recording: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Take requests from the apiserver until cancelled (a restarted apiserver is waited for)."""
        while True:
            try:
                request_id, method, path, body = await self.apiserver.options(
                    timeout=3600 * self.system.clock.time_scale
                ).call("next_admin_request")
            except runtime_errors.CallTimeout:
                continue
            except runtime_errors.ActorError as error:
                log.info("fault desk: apiserver unavailable (%s); retrying", error)
                await asyncio.sleep(0.5)
                continue
            try:
                answer: Any = await self.handle(method, path, body)
                code = 201 if method == "POST" else 200
            except (KeyError, ValueError, TypeError) as error:
                answer, code = {"message": str(error).strip("'\"")}, 400
            except runtime_errors.ActorError as error:
                answer, code = {"message": str(error)}, 409
            with contextlib.suppress(
                runtime_errors.ActorError
            ):  # the apiserver restarted: its caller is gone
                await self.apiserver.call("admin_reply", request_id, code, answer)

    async def handle(self, method: str, path: str, body: Any) -> Any:
        if path == "/kubemu/v1/actors" and method == "GET":
            return [
                {
                    "name": a.name,
                    "host": a.host,
                    "state": str(a.state),
                    "restarts": a.restarts,
                    "reason": a.reason,
                }
                for a in await self.system.actors()
            ]
        if path == "/kubemu/v1/faults" and method == "GET":
            return [e.to_dict() for e in await self.system.events()]
        if path == "/kubemu/v1/faults" and method == "POST":
            if not isinstance(body, dict) or "kind" not in body:
                raise ValueError('a fault is an object with a "kind" (kill, restart, pause, resume, ...)')
            kind = FaultKind(body["kind"])
            params = dict(body.get("params") or {})
            targets = tuple([await self._resolve(t) for t in body.get("targets") or []])
            for side in ("sources", "destinations"):
                if side in params:
                    params[side] = [await self._resolve(t) for t in params[side]]
            record = await self.system.apply(FaultEvent(time=0.0, kind=kind, targets=targets, params=params))
            task = asyncio.ensure_future(self._record(record))  # the store may be down: do not wait for it
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
            return record.to_dict()
        raise KeyError(f"no admin endpoint {method} {path}")

    async def _resolve(self, name: str) -> str:
        if name != STORE_LEADER:
            return name
        for member in self.store_members:
            try:
                budget = 2.0 * self.system.clock.time_scale  # wall seconds: the store runs on Raft's time
                status = await self.system.ref(member).options(timeout=budget).call("status")
            except runtime_errors.ActorError:
                continue
            if status.get("leader") == member:
                return member
        raise ValueError("no store member leads right now")

    async def _record(self, record: FaultEvent) -> None:
        """A core/v1 Event in kube-system, as a component records what it did."""
        self._events += 1
        when = meta.now_rfc3339(record.time)
        event = {
            "metadata": {"name": f"kubemu-fault.{self._events:05d}", "namespace": "kube-system"},
            "involvedObject": {"kind": "Actor", "name": _subject(record)},
            "reason": "FaultInjected",
            "message": record.describe(),
            "type": "Warning",
            "source": {"component": "kubemu-fault"},
            "firstTimestamp": when,
            "lastTimestamp": when,
            "count": 1,
            "reportingComponent": "kubemu-fault",
        }
        for attempt in range(30):  # a fault may leave the store without a leader for a while
            try:
                await self.apiserver.call("create", "events", "kube-system", event)
                return
            except Exception as error:  # the fault happened; a missing Event must not hide that
                if attempt == 29:
                    log.warning("fault desk: could not record an Event: %s", error)
                await asyncio.sleep(1.0)


def client_request(kubeconfig: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the admin endpoint with the kubeconfig's current context (server, CA, client certificate)."""
    with open(kubeconfig) as handle:
        config = codec.load_yaml(handle.read())
    current = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    server = cluster["server"]
    ssl_context = None
    with tempfile.TemporaryDirectory() as tmp:
        if server.startswith("https"):
            ssl_context = ssl.create_default_context()
            if "certificate-authority-data" in cluster:
                ssl_context.load_verify_locations(
                    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
                )
            if "client-certificate-data" in user:
                cert, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
                with open(cert, "wb") as out:
                    out.write(base64.b64decode(user["client-certificate-data"]))
                with open(key, "wb") as out:
                    out.write(base64.b64decode(user["client-key-data"]))
                ssl_context.load_cert_chain(cert, key)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            server + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=ssl_context, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def _subject(record: FaultEvent) -> str:
    """Who a fault is about: its targets, or the sources of a link fault, or ``all`` for a heal."""
    if record.targets:
        return ",".join(record.targets)
    sources = record.params.get("sources")
    return ",".join(sources) if sources else "all"
