"""``Kubelet``: one emulated node's agent (actor ``kubelet/<node>``); thousands share a host.

What runs today (the node's side of the node issue; pods come next):

- registration: it creates its Node (``node.node_object``); a Node that already exists, as after a kubelet
  restart, is taken over and its status rewritten. It retries until the apiserver answers, with back-off
  (0.1 s doubling to 7 s of cluster time), as upstream's ``registerWithAPIServer`` does;
- the heartbeat: it renews its Lease in ``kube-node-lease`` every 10 s of cluster time, and writes its
  Node's status when the status changed or every 5 minutes (``node.STATUS_REPORT_FREQUENCY``), as
  upstream's kubelet with node leases does;
- a Node deleted under it is not re-created (upstream's kubelet registers once); the kubelet goes quiet and
  ``stats()`` says so.

Every write goes through the apiserver's internal client, so the fault layer sees it: partition a kubelet
from ``apiserver-0`` and its heartbeats stop, which the node lifecycle controller will notice.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.apiserver import status
from actors.kubelet import node
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor

log = logging.getLogger("kubemu.kubelet")

_REGISTER_BACKOFF = 0.1
_REGISTER_BACKOFF_MAX = 7.0
_RETRYABLE = (runtime_errors.ActorError, status.ApiError)


class Kubelet(Actor):
    """Restarted after a crash (the default policy), not after its loop ends: a kubelet whose Node was
    deleted stays quiet."""

    expected_errors = (status.ApiError,)

    def __init__(self, *, node: node.NodeConfig, apiserver: str = "apiserver-0") -> None:
        self.config = node
        self.apiserver = apiserver
        self.registered = False
        self.gone = False  # the Node was deleted under us
        self._node: dict[str, Any] | None = None  # as last read or written
        self._lease: dict[str, Any] | None = None
        self._last_report = 0.0
        self.counters = {"lease_renewals": 0, "status_reports": 0, "errors": 0}

    async def run(self) -> None:
        await self._register()
        while not self.gone:
            try:
                await self._renew_lease()
                await self._sync_status()
            except _RETRYABLE as error:  # the next beat tries again, as upstream's kubelet does
                self.counters["errors"] += 1
                log.info("%s: heartbeat failed: %s", self.name, error)
            await self.sleep(node.RENEW_INTERVAL)

    def stats(self) -> dict[str, Any]:
        return {
            "node": self.config.name,
            "registered": self.registered,
            "gone": self.gone,
            **self.counters,
        }

    # -- registration --------------------------------------------------------------------------------------

    async def _register(self) -> None:
        delay = _REGISTER_BACKOFF
        api = self.ref(self.apiserver)
        while True:
            now = self.clock.now()
            try:
                try:
                    self._node = await api.call("create", "nodes", None, node.node_object(self.config, now))
                except status.ApiError as error:
                    if error.reason != "AlreadyExists":
                        raise
                    self._node = await api.call("get", "nodes", None, self.config.name)
                    await self._write_status(now)
                self._last_report = now
                self.registered = True
                log.info("%s: registered node %s", self.name, self.config.name)
                return
            except _RETRYABLE as error:
                self.counters["errors"] += 1
                log.info("%s: unable to register node %s: %s", self.name, self.config.name, error)
            await self.sleep(delay)
            delay = min(delay * 2, _REGISTER_BACKOFF_MAX)

    # -- heartbeat -----------------------------------------------------------------------------------------

    async def _renew_lease(self) -> None:
        assert self._node is not None
        api = self.ref(self.apiserver)
        renewed = node.lease_object(self.config.name, self._node["metadata"]["uid"], self.clock.now())
        if self._lease is not None:
            renewed["metadata"]["resourceVersion"] = self._lease["metadata"]["resourceVersion"]
            try:
                self._lease = await api.call("update", "leases", node.LEASE_NAMESPACE, renewed)
                self.counters["lease_renewals"] += 1
                return
            except status.ApiError as error:
                if error.reason not in ("Conflict", "NotFound"):
                    raise
                self._lease = None  # someone else wrote it, or it is gone: start from what is stored
                del renewed["metadata"]["resourceVersion"]
        try:
            self._lease = await api.call("create", "leases", node.LEASE_NAMESPACE, renewed)
        except status.ApiError as error:
            if error.reason != "AlreadyExists":
                raise
            stored = await api.call("get", "leases", node.LEASE_NAMESPACE, self.config.name)
            renewed["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            self._lease = await api.call("update", "leases", node.LEASE_NAMESPACE, renewed)
        self.counters["lease_renewals"] += 1

    async def _sync_status(self) -> None:
        assert self._node is not None
        now = self.clock.now()
        stored = self._node.get("status") or {}
        report = node.node_status(self.config, now, stored)
        due = now - self._last_report >= node.STATUS_REPORT_FREQUENCY
        if due or node.status_changed(report, stored):
            await self._write_status(now)
            self._last_report = now

    async def _write_status(self, now: float) -> None:
        """Write the status on top of the stored Node; a conflict re-reads it once."""
        assert self._node is not None
        api = self.ref(self.apiserver)
        for attempt in range(2):
            updated = {**self._node, "status": node.node_status(self.config, now, self._node.get("status"))}
            try:
                self._node = await api.call("update", "nodes", None, updated, subresource="status")
                self.counters["status_reports"] += 1
                return
            except status.ApiError as error:
                if error.reason == "NotFound":
                    self.gone = True
                    log.warning("%s: node %s was deleted; not registering again", self.name, self.config.name)
                    return
                if error.reason != "Conflict" or attempt == 1:
                    raise
                self._node = await api.call("get", "nodes", None, self.config.name)
