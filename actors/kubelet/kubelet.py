"""``Kubelet``: one emulated node's agent (actor ``kubelet/<node>``); thousands share a host.

What runs today:

- registration: it creates its Node (``node.node_object``); a Node that already exists, as after a kubelet
  restart, is taken over and its status rewritten. It retries until the apiserver answers, with back-off
  (0.1 s doubling to 7 s of cluster time), as upstream's ``registerWithAPIServer`` does;
- the heartbeat: it renews its Lease in ``kube-node-lease`` every 10 s of cluster time, and writes its
  Node's status when the status changed or every 5 minutes (``node.STATUS_REPORT_FREQUENCY``), as
  upstream's kubelet with node leases does;
- a Node deleted under it is not re-created (upstream's kubelet registers once); the kubelet goes quiet and
  ``stats()`` says so;
- pods: it lists and watches the pods bound to it (``spec.nodeName``, an informer over the internal
  watch), gives each an address from its podCIDR through the CNI plugin (``network.cni.Bridge`` with
  host-local IPAM; a hostNetwork pod has the node's), runs it through the emulated container engine
  (``engine.PodRun``) and writes the pod's status whenever it changes. A pod being deleted has its
  containers stopped within its grace period; then the kubelet deletes it for good (grace 0) and releases
  its address, as upstream's kubelet does.

An idle kubelet holds no task: the heartbeat is a timer on the cluster clock that starts a short task for
each beat, and pods are synced by a task that runs while there is work (a watch event, a container's timer)
and ends when there is none. What a node without pods keeps is its Node (shared with the apiserver's watch
cache), its Lease's resourceVersion, counters and one timer; its image cache, CNI plugin and event recorder
are made with its first pod.

A restarted kubelet starts its pods' containers again (the emulated runtime lives in the kubelet actor:
unlike a real container runtime it does not outlive the kubelet) but keeps each pod's address.

Every write goes through the apiserver's internal client, so the fault layer sees it: partition a kubelet
from ``apiserver-0`` and its heartbeats stop, which the node lifecycle controller will notice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from actors.apiserver import status
from actors.apiserver.events import EventRecorder
from actors.kubelet import engine, node
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor
from actors.runtime.clock import Timer
from consensus.client import StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.raft import ProposalFailed
from network import cni

log = logging.getLogger("kubemu.kubelet")

_REGISTER_BACKOFF = 0.1
_REGISTER_BACKOFF_MAX = 7.0
WATCH_CHECK_BEATS = 3  # every third heartbeat (30 s) asks whether the apiserver still serves the watches
# Failures a component waits out and retries (the apiserver passes the store's own on unchanged).
_RETRYABLE = (runtime_errors.ActorError, status.ApiError, StoreUnavailable, RequestTimedOut, ProposalFailed)


@dataclasses.dataclass(slots=True)
class _Pod:
    key: str  # namespace/name, for logs
    pod: dict[str, Any]  # as last seen
    run: engine.PodRun
    ip: str
    written: dict[str, Any] | None = None  # the status last written
    deleting: bool = False
    dirty: bool = True  # seen changed (or its last report failed) since its last pass
    due: float = 0.0  # when its containers next change by themselves (engine.FOREVER: never)


class Kubelet(Actor):
    """Restarted after a crash (the default policy), not after its loop ends: a kubelet whose Node was
    deleted stays quiet."""

    expected_errors = (status.ApiError,)

    def __init__(
        self,
        *,
        node: node.NodeConfig,
        apiserver: str = "apiserver-0",
        image_pull_seconds: float = 0.5,
        bad_images: tuple[str, ...] = (),
    ) -> None:
        """``bad_images``: image patterns (fnmatch) whose pulls fail, as a registry without them would."""
        self.config = node
        self.apiserver = apiserver
        self.registered = False
        self.gone = False  # the Node was deleted under us
        self._node: dict[str, Any] | None = None  # as last read or written (the watch cache's, mostly)
        self._lease_version: str | None = None  # the resourceVersion of the Lease as last written
        self._last_report = 0.0
        self._images_seen = 0  # how many images the node had at the last pod pass
        self._beats = 0  # heartbeats so far: every WATCH_CHECK_BEATS-th also checks the watches
        self.counters = {"lease_renewals": 0, "status_reports": 0, "errors": 0, "pod_status_writes": 0}
        self._image_pull_seconds = image_pull_seconds
        self._bad_images = tuple(bad_images)
        self._images: engine.ImageCache | None = None  # made with the first pod, as are _cni and _events
        self._cni: cni.Bridge | None = None
        self._events: EventRecorder | None = None
        self._pods: dict[str, _Pod] = {}  # by uid
        self._pod_watch: int | None = None
        self._node_watch: int | None = None  # the kubelet's informer on its own Node
        self._beat: Timer | None = None  # the next heartbeat
        self._timer: Timer | None = None  # the next pod sync a container asked for
        self._syncing: asyncio.Task[None] | None = None  # the pod sync task, while one runs
        self._dirty = False  # a pod sync pass is wanted; set by _kick, cleared when a pass starts
        self._ended = False  # this incarnation was stopped or killed: its timers start nothing

    @property
    def images(self) -> engine.ImageCache:
        if self._images is None:
            self._images = engine.ImageCache(
                pull_seconds=self._image_pull_seconds, bad_images=self._bad_images
            )
        return self._images

    @property
    def cni(self) -> cni.Bridge:
        if self._cni is None:
            self._cni = cni.Bridge()
        return self._cni

    @property
    def events(self) -> EventRecorder:
        if self._events is None:
            self._events = EventRecorder(
                apiserver=self.ref(self.apiserver),
                component="kubelet",
                clock=self.clock,
                host=self.config.name,
            )
        return self._events

    async def run(self) -> None:
        """Register, start watching pods, beat once; later beats come from the clock (``_on_beat``)."""
        await self._register()
        self._kick()
        await self._heartbeat()

    async def on_stop(self) -> None:
        self._end()

    def on_kill(self) -> None:
        self._end()

    def _end(self) -> None:
        self._ended = True
        for timer in (self._beat, self._timer):
            if timer is not None:
                timer.cancel()
        self._beat = self._timer = None

    # -- heartbeat -----------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """One beat: renew the Lease, sync the Node's status, and set the timer for the next beat
        ``RENEW_INTERVAL`` after this one ends (upstream's ``wait.Until``), unless the Node is gone."""
        if self.gone:
            return
        try:
            await self._renew_lease()
            self._beats += 1
            if self._beats % WATCH_CHECK_BEATS == 0:
                await self._check_watches()
            await self._sync_status()
        except _RETRYABLE as error:  # the next beat tries again, as upstream's kubelet does
            self.counters["errors"] += 1
            log.info("%s: heartbeat failed: %s", self.name, error)
        if not self.gone and not self._ended:
            self._beat = self.clock.call_later(node.RENEW_INTERVAL, self._on_beat)

    async def _check_watches(self) -> None:
        """Whether the apiserver still serves this kubelet's watches: a restarted apiserver lost them, and
        without a check the kubelet would wait for pods that never come (a broken connection tells a real
        kubelet at once). A lost one is started again: the pod watch by the next pass, the Node's by the
        status sync."""
        ids = [w for w in (self._pod_watch, self._node_watch) if w is not None]
        if not ids:
            return
        live = set(await self.ref(self.apiserver).call("live_watches", ids))
        if self._node_watch is not None and self._node_watch not in live:
            self._node_watch = None
        if self._pod_watch is not None and self._pod_watch not in live:
            log.info("%s: the apiserver no longer serves the pod watch: listing again", self.name)
            self._pod_watch = None
            self._kick()

    def _on_beat(self) -> None:
        self._beat = None
        if not self._ended:
            self.start_task(self._beat_when_resumed(), name="heartbeat")

    async def _beat_when_resumed(self) -> None:
        await self.sleep(0)  # a paused kubelet beats only once resumed, as its sleep used to end then
        await self._heartbeat()

    def stats(self) -> dict[str, Any]:
        return {
            "node": self.config.name,
            "registered": self.registered,
            "gone": self.gone,
            "pods": len(self._pods),
            **self.counters,
        }

    # -- pods ----------------------------------------------------------------------------------------------

    def on_pods(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        """The pod watch's events (a synchronous handler: no task per event). An empty list ends the
        watch: the next pass lists and watches again."""
        if watch_id != self._pod_watch:
            return
        if not events:
            self._pod_watch = None
        for kind, pod in events:
            self._seen(kind, pod)
        self._kick()

    def _kick(self) -> None:
        """Ask for a pod sync pass: the sync task starts if none runs, or makes one more pass."""
        self._dirty = True
        if self._syncing is None and not self._ended and not self.gone:
            self._syncing = self.start_task(self._sync_pods(), name="pods")

    async def _sync_pods(self) -> None:
        """Passes over the pods while one is wanted; then the task ends, leaving at most a timer for the
        next moment a container changes by itself."""
        try:
            await self.sleep(0)  # a paused kubelet syncs once resumed
            api = self.ref(self.apiserver)
            while self._dirty and not self.gone:
                # Cleared before the pass, not after: a pod seen while a status write is awaited must
                # make another pass (clearing afterwards lost it, and the pod stayed Pending for good).
                self._dirty = False
                if self._pod_watch is None:
                    try:
                        await self._list_and_watch(api)
                    except _RETRYABLE as error:
                        log.info("%s: pod watch not started: %s", self.name, error)
                        self._set_timer(self.clock.now() + 1.0)
                        return
                now = self.clock.now()
                upcoming = engine.FOREVER
                # only the pods seen changed or due now; a pod waiting on the node's images (``FOREVER``,
                # pull policy Never) is looked at again whenever an image has come since the last pass
                images = self._images_present(now)
                new_image = images != self._images_seen
                self._images_seen = images
                for entry in list(self._pods.values()):
                    if not (entry.dirty or entry.due <= now or (new_image and entry.due == engine.FOREVER)):
                        upcoming = min(upcoming, entry.due)
                        continue
                    entry.dirty = False
                    entry.due = entry.run.advance(now)
                    upcoming = min(upcoming, entry.due)
                    for event in entry.run.take_events():
                        self.start_task(self._record(entry.pod, event), name="event")
                    try:
                        await self._report(api, entry, now)
                    except _RETRYABLE as error:
                        entry.dirty = True
                        self.counters["errors"] += 1
                        log.info("%s: status of pod %s not written: %s", self.name, entry.key, error)
                        upcoming = min(upcoming, now + 1.0)
                if self._images_present(now) != self._images_seen:
                    self._dirty = True  # an image came during the pass: look at the waiting pods again
                self._set_timer(max(upcoming, now) if upcoming != engine.FOREVER else None)
        finally:
            self._syncing = None

    def _images_present(self, now: float) -> int:
        """How many images are on the node at ``now`` (pulls finish at their own times)."""
        return sum(1 for at in self._images.ready.values() if at <= now) if self._images is not None else 0

    def _set_timer(self, deadline: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None and not self._ended:
            self._timer = self.clock.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._kick()

    async def _list_and_watch(self, api: Any) -> None:
        selector = f"spec.nodeName={self.config.name}"
        listed = await api.call("list_objects", "pods", None, field_selector=selector, resource_version="0")
        current = {pod["metadata"]["uid"] for pod in listed["items"]}
        for uid in [uid for uid in self._pods if uid not in current]:
            self._forget(uid)
        for pod in listed["items"]:
            self._seen("ADDED", pod)
        self._pod_watch = await api.call(
            "watch",
            "pods",
            None,
            watcher=self.name,
            method="on_pods",
            field_selector=selector,
            resource_version=listed["metadata"]["resourceVersion"],
        )

    def _seen(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED":
            self._forget(uid)
            return
        entry = self._pods.get(uid)
        if entry is None:
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                return  # finished before this kubelet started: nothing runs again
            entry = self._pods[uid] = _Pod(
                key=f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}",
                pod=pod,
                run=engine.PodRun(pod, self.clock.now(), self.images),
                ip=self._address(pod),
            )
            entry.run.pod_ip = entry.ip  # the probes' messages name it
        entry.pod = pod
        entry.dirty = True
        if entry.written is not None and _drifted(pod.get("status") or {}, entry.written):
            entry.written = None  # someone else changed what this kubelet reports: write it again
            self._kick()
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            grace = md.get("deletionGracePeriodSeconds")
            entry.run.stop(self.clock.now(), float(grace) if grace is not None else None)

    def _address(self, pod: dict[str, Any]) -> str:
        """The pod's IP: the node's for hostNetwork, else one from the node's podCIDR through CNI (the one
        it already has, after a kubelet restart)."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.config.internal_ip
        if not self.config.pod_cidr:
            return ""
        uid = pod["metadata"]["uid"]
        known = (pod.get("status") or {}).get("podIP")
        pool = self.cni.pool(self.config.pod_cidr)
        if known and pool is not None:
            try:
                return pool.allocate(uid, "eth0", requested=known).ip
            except ValueError:
                pass  # taken or outside the range: a fresh one
        result = self.cni.add(self._cni_config(), uid, f"/var/run/netns/cni-{uid}", "eth0", {})
        return str(result["ips"][0]["address"]).partition("/")[0]

    def _cni_config(self) -> dict[str, Any]:
        return {
            "cniVersion": cni.SPEC_VERSION,
            "name": "kubemu",
            "type": "bridge",
            "bridge": "cni0",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": self.config.pod_cidr}]]},
        }

    def _forget(self, uid: str) -> None:
        entry = self._pods.pop(uid, None)
        if entry is not None and self.config.pod_cidr:
            self.cni.delete(self._cni_config(), uid, f"/var/run/netns/cni-{uid}", "eth0", {})

    async def _report(self, api: Any, entry: _Pod, now: float) -> None:
        """Write the pod's status if it changed; delete a stopped terminating pod for good."""
        md = entry.pod["metadata"]
        reported = entry.run.status(now, pod_ip=entry.ip, host_ip=self.config.internal_ip)
        if reported != entry.written:
            await api.call(
                "patch",
                "pods",
                md.get("namespace"),
                md["name"],
                "application/merge-patch+json",
                {"status": reported},
                subresource="status",
            )
            entry.written = reported
            self.counters["pod_status_writes"] += 1
        if entry.run.stopped() and not entry.deleting:
            entry.deleting = True
            try:
                await api.call("delete", "pods", md.get("namespace"), md["name"], grace_period_seconds=0)
            except status.ApiError as error:
                if error.reason != "NotFound":
                    entry.deleting = False
                    raise

    async def _record(self, pod: dict[str, Any], event: engine.EngineEvent) -> None:
        """One of the engine's events on the pod, its ``fieldPath`` naming the container."""
        await self.events.event(pod, event.type, event.reason, event.message, field_path=event.field_path)

    # -- what the apiserver and metrics-server ask -------------------------------------------------------

    async def logs(
        self,
        namespace: str,
        name: str,
        container: str,
        *,
        previous: bool = False,
        since: float | None = None,
        tail: int | None = None,
    ) -> list[tuple[float, str]]:
        """``pods/log`` for one container of a pod on this node (the apiserver proxies it here); 400 as
        upstream's kubelet words it when there is nothing to read."""
        entry = next((e for e in self._pods.values() if e.key == f"{namespace}/{name}"), None)
        if entry is None:
            raise status.bad_request(f'pod "{name}" in namespace "{namespace}" is not running on this node')
        try:
            return entry.run.logs(container, previous=previous, since=since, tail=tail, now=self.clock.now())
        except engine.LogsUnavailable as error:
            raise status.bad_request(str(error)) from None

    async def summary(self) -> dict[str, Any]:
        """The node's and its pods' resource usage now (the kubelet's ``/metrics/resource``, which
        metrics-server scrapes): cpu in nanocores, memory in bytes. The node's own use is its pods' plus
        what the kubelet and the runtime take (``node.SYSTEM_USAGE``)."""
        now = self.clock.now()
        pods = []
        cpu, memory = node.SYSTEM_USAGE
        for entry in self._pods.values():
            usage = entry.run.usage(now)
            if not usage:
                continue
            md = entry.pod["metadata"]
            pods.append(
                {
                    "namespace": md.get("namespace", ""),
                    "name": md["name"],
                    "labels": dict(md.get("labels") or {}),
                    "containers": [{"name": n, "cpu": c, "memory": m} for n, (c, m) in usage.items()],
                }
            )
            cpu += sum(c for c, _ in usage.values())
            memory += sum(m for _, m in usage.values())
        return {"timestamp": now, "node": {"cpu": cpu, "memory": memory}, "pods": pods}

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

    # -- the Lease and the Node's status -----------------------------------------------------------------

    async def _renew_lease(self) -> None:
        """Update the Lease from the version last written (create it the first time); a conflict or a
        missing Lease starts over from what is stored. Only the Lease's resourceVersion is kept between
        beats: the rest is rebuilt from the node's name and uid."""
        assert self._node is not None
        api = self.ref(self.apiserver)
        renewed = node.lease_object(self.config.name, self._node["metadata"]["uid"], self.clock.now())
        if self._lease_version is not None:
            renewed["metadata"]["resourceVersion"] = self._lease_version
            try:
                self._lease_version = _written_version(
                    await api.call("update", "leases", node.LEASE_NAMESPACE, renewed)
                )
                self.counters["lease_renewals"] += 1
                return
            except status.ApiError as error:
                if error.reason not in ("Conflict", "NotFound"):
                    raise
                self._lease_version = None  # someone else wrote it, or it is gone: start from what is stored
                del renewed["metadata"]["resourceVersion"]
        try:
            written = await api.call("create", "leases", node.LEASE_NAMESPACE, renewed)
        except status.ApiError as error:
            if error.reason != "AlreadyExists":
                raise
            stored = await api.call("get", "leases", node.LEASE_NAMESPACE, self.config.name)
            renewed["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            written = await api.call("update", "leases", node.LEASE_NAMESPACE, renewed)
        self._lease_version = _written_version(written)
        self.counters["lease_renewals"] += 1

    def on_node(self, watch_id: int, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Changes of the kubelet's own Node (an informer, as upstream's kubelet has one on its Node)."""
        if watch_id != self._node_watch:
            return
        if not events:
            self._node_watch = None  # closed: listed and watched again at the next status sync
        for kind, obj in events:
            if kind == "DELETED":
                self._node_gone()
            elif self._node is None or _version(obj) >= _version(self._node):
                self._node = obj

    async def _watch_node(self, api: Any) -> None:
        selector = f"metadata.name={self.config.name}"
        # from the watch cache (resourceVersion 0): one lookup by name, not a read of every Node
        listed = await api.call("list_objects", "nodes", None, field_selector=selector, resource_version="0")
        if not listed["items"]:
            self._node_gone()
            return
        self._node = listed["items"][0]
        self._node_watch = await api.call(
            "watch",
            "nodes",
            None,
            watcher=self.name,
            method="on_node",
            field_selector=selector,
            resource_version=listed["metadata"]["resourceVersion"],
        )

    def _node_gone(self) -> None:
        if not self.gone:
            self.gone = True
            log.warning("%s: node %s was deleted; not registering again", self.name, self.config.name)

    async def _sync_status(self) -> None:
        """Upstream's ``tryUpdateNodeStatus``: look at the Node (through the informer), write the status if
        it differs from what is stored (the node lifecycle controller may have marked it Unknown) or is due
        anyway."""
        api = self.ref(self.apiserver)
        if self._node_watch is None:
            await self._watch_node(api)
        if self.gone:
            return
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
                    self._node_gone()
                    return
                if error.reason != "Conflict" or attempt == 1:
                    raise
                self._node = await api.call("get", "nodes", None, self.config.name)


def _drifted(observed: dict[str, Any], written: dict[str, Any]) -> bool:
    """Whether the pod's status in the API no longer says what this kubelet last wrote (the node
    lifecycle controller marked it not Ready while the node looked lost, say). As upstream's status
    manager, the kubelet then writes its own view again; fields it does not own are left alone."""
    return any(observed.get(key) != value for key, value in written.items())


def _written_version(obj: dict[str, Any]) -> str:
    """The resourceVersion of an object the apiserver returned (the rest of the reply is dropped)."""
    return str(obj["metadata"]["resourceVersion"])


def _version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)
