"""``ApiServer``: the apiserver actor (``apiserver-0``), the cluster's front door and the store's only client.

What it runs:

- one ``WatchCache`` per stored resource, each fed by one store watch (``StoreMember.watch`` with
  ``prev_kv``) from the revision of its initial list, so every change reaches every cache in order; a
  watch on a member that died or restarted is re-established on another member from the cache's revision
  (a compacted gap re-lists the resource and closes its watchers, which re-list as upstream's do);
- ``rest.Rest`` for the verbs, and ``http_api.HttpApi`` on a ``consensus.http_server.HttpServer`` bound to
  loopback (HTTPS with the cluster CA unless ``insecure``);
- the bootstrap a fresh cluster has: the ``default``, ``kube-system``, ``kube-public`` and
  ``kube-node-lease`` namespaces, the ``kubernetes`` Service, and (when secured) upstream's bootstrap RBAC
  roles and bindings;
- with a PKI directory: HTTPS, authentication (client certificates, static tokens) and RBAC, the
  authorizer following the RBAC caches (``security.Security``);
- the internal client API other actors call (``get``, ``list``, ``create``, ``update``, ``patch``,
  ``delete``, ``watch``/``stop_watch``), with the same semantics as HTTP and no HTTP on the path.

A namespace that is deleted is emptied here (every namespaced object in it deleted, then the namespace),
standing in for the controller-manager's namespace controller until that lands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

from actors.apiserver import allocators, authn, proxies, rbac, rest, status, storage
from actors.apiserver.http_api import HttpApi
from actors.apiserver.security import Security
from actors.apiserver.watch_cache import DELETED, Filter, WatchCache, Watcher
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor
from actors.runtime.ref import ActorRef
from consensus import http_server as hs
from consensus import pki
from consensus.client import StoreClient, StoreUnavailable
from consensus.member import RequestTimedOut
from consensus.mvcc import errors as store_errors
from consensus.mvcc import types
from consensus.raft import Diverged, ProposalFailed
from kube import errors as kube_errors
from kube import fields, kinds, labels, meta, validation_scheduling

log = logging.getLogger("kubemu.apiserver")

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_WATCH_CHECK = 1.0  # wall seconds between checks that the store still serves our watches (Raft's time)


def stored_kinds(registry: kinds.Registry) -> list[kinds.Kind]:
    """The kinds kept in the store (not the virtual ones: bindings, reviews, aggregated metrics)."""
    virtual = ("metrics.k8s.io", "authentication.k8s.io", "authorization.k8s.io")
    return [k for k in registry if k.group not in virtual and k.resource != "bindings"]


@dataclasses.dataclass(slots=True)
class _StoreWatch:
    kind: kinds.Kind
    member: str
    watch_id: int  # the member's id of it
    tag: int  # ours, which its events carry


class _InternalWatch:
    """An actor's watch through the internal client: its cache subscription and where its events go."""

    __slots__ = ("cache", "id", "method", "target", "wake", "watcher")

    cache: WatchCache
    watcher: Watcher

    def __init__(
        self, id: int, target: ActorRef, method: str, on_wake: Callable[[_InternalWatch], None]
    ) -> None:
        self.id = id
        self.target = target
        self.method = method
        self.wake = functools.partial(on_wake, self)  # the cache calls it when events start queueing


class ApiServer(Actor):
    """See the module docstring."""

    # answers to a caller, not crashes of the apiserver
    expected_errors = (
        status.ApiError,
        StoreUnavailable,
        ProposalFailed,
        RequestTimedOut,
        Diverged,
        store_errors.StoreError,
        kube_errors.KubeError,
    )

    def __init__(
        self,
        *,
        store_members: list[str],
        port: int = 6443,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        registry: kinds.Registry = kinds.DEFAULT,
        service_cidr: str = allocators.DEFAULT_SERVICE_CIDR,
        node_port_range: str = allocators.DEFAULT_NODE_PORT_RANGE,
        watch_cache_capacity: int = 10_000,
        bookmark_interval: float = 60.0,
        compaction_interval: float = 300.0,
        pki_dir: str | None = None,
        token_file: str | None = None,
        metrics_server: str = "metrics-server",
    ) -> None:
        """``pki_dir``: serve HTTPS with ``apiserver.crt`` and authenticate and authorise every request
        (client certificates, the static ``token_file``, RBAC); None serves plain HTTP to anyone."""
        self.store_members = list(store_members)
        self.port = port
        self.host = host
        self.ssl_context = ssl_context
        self.registry = registry
        self.service_cidr = service_cidr
        self.node_port_range = node_port_range
        self.watch_cache_capacity = watch_cache_capacity
        self.bookmark_interval = bookmark_interval
        self.compaction_interval = compaction_interval  # cluster seconds; 0 turns compaction off
        self._compact_next = 0  # the revision the next compaction goes to
        self.pki_dir = pki_dir
        self.token_file = token_file
        self.metrics_server = metrics_server  # the actor behind metrics.k8s.io
        self.security: Security | None = None
        self.caches: dict[kinds.Kind, WatchCache] = {}
        self._store_watches: dict[int, _StoreWatch] = {}  # by tag
        self._unwatched: set[kinds.Kind] = set()  # kinds whose store watch was lost and is not back yet
        self._next_tag = 1
        self._internal_watches: dict[int, _InternalWatch] = {}
        self._to_flush: list[_InternalWatch] = []  # internal watches with events to send
        self._flush_scheduled = False
        # watch ids of this incarnation: a restarted apiserver never takes an old id for one of its own
        self._next_watch = (int.from_bytes(os.urandom(4), "big") << 24) + 1
        self.http: hs.HttpServer | None = None
        self.api: HttpApi | None = None
        self.rest: rest.Rest | None = None
        self.ready = False
        self._admin_queue: asyncio.Queue[tuple[int, str, str, Any]] = asyncio.Queue()
        self._admin_waiting: dict[int, asyncio.Future[tuple[int, Any]]] = {}
        self._admin_ids = 0
        self._admin_desks = 0  # fault desks polling right now

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def on_start(self) -> None:
        self.client = StoreClient(ref=self.ref, members=self.store_members, clock=self.clock)
        self.objects = storage.ObjectStore(self.client)
        self.cluster_ips = allocators.ClusterIPAllocator(rng=self.rng, cidr=self.service_cidr)
        self.node_ports = allocators.NodePortAllocator(rng=self.rng, port_range=self.node_port_range)
        self.rest = rest.Rest(
            objects=self.objects,
            caches=self.caches,
            registry=self.registry,
            clock=self.clock,
            rng=self.rng,
            cluster_ips=self.cluster_ips,
            node_ports=self.node_ports,
        )
        for kind in stored_kinds(self.registry):
            self.caches[kind] = WatchCache(kind, capacity=self.watch_cache_capacity)
        await self.client.follow_leader()
        await asyncio.gather(*(self._start_watch(kind) for kind in self.caches))
        services = self.registry.by_resource("", "v1", "services")
        if services is not None:
            for event in self.cluster_ips.rebuild(self.caches[services].objects.values()):
                log.warning("service IP repair: %s", event)
            self.node_ports.rebuild(self.caches[services].objects.values())
        await self._bootstrap()
        if self.pki_dir is not None:
            await self._bootstrap_rbac()
        authenticate: Callable[[hs.Request], Any] | None = None
        authorize: Callable[[Any, dict[str, Any]], None] | None = None
        if self.pki_dir is not None:
            self.security = self._secure()
            authenticate, authorize = self.security.authenticate, self.security.authorize
        self.api = HttpApi(
            rest=self.rest,
            registry=self.registry,
            now=self.clock.now,
            server_address=f"{self.host}:{self.port}",
            bookmark_interval=self.bookmark_interval,
            authenticate=authenticate,
            authorize=authorize,
            metrics=self.metrics_text,
            review=self.security.review if self.security is not None else None,
            admin=self._admin,
            issue_token=self._issue_token if self.pki_dir is not None else None,
            ready=lambda: self.ready,
            aggregated=self._aggregated,
            pod_logs=self._pod_logs,
            follow_pod_logs=self._follow_pod_logs,
        )
        self.http = hs.HttpServer(
            self.api.handle, host=self.host, port=self.port, ssl_context=self.ssl_context
        )
        await self.http.start()
        self.port = self.http.port
        self.ready = True
        log.info(
            "%s: serving on %s://%s:%d",
            self.name,
            "https" if self.ssl_context else "http",
            self.host,
            self.port,
        )

    def _secure(self) -> Security:
        """TLS from the PKI directory, the authenticators, and an authorizer that follows the RBAC caches."""
        assert self.pki_dir is not None
        paths = pki.PkiPaths.under(self.pki_dir)
        self.ssl_context = pki.server_ssl_context(paths, require_client_cert=False, identity=paths.apiserver)
        token_file = None
        if self.token_file is not None:
            with open(self.token_file) as handle:
                token_file = authn.parse_token_file(handle.read(), path=self.token_file)
        self._token_key = pki.service_account_key(paths)
        authenticator = authn.Authenticator(
            token_file=token_file, service_account_keys=[self._token_key.public_key()]
        )
        security = Security(authenticator=authenticator, now=self.clock.now, lookup=self._lookup)
        loop = asyncio.get_running_loop()
        for resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            kind = self.registry.by_resource(rbac.GROUP, "v1", resource)
            assert kind is not None
            self._follow(self.caches[kind], security.on_rbac_change, loop)
        return security

    def _follow(
        self,
        cache: WatchCache,
        on_change: Callable[[str, dict[str, Any]], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Call ``on_change(type, object)`` for what the cache holds now and for every later change."""
        watcher: Watcher | None = None

        def drain() -> None:
            nonlocal watcher
            assert watcher is not None
            for event in watcher.take():
                on_change(event.type, event.object)
            if watcher.closed:  # a re-list: follow again from what the cache holds now
                watcher = cache.watch(Filter(), None, wake)
                drain()

        def wake() -> None:
            loop.call_soon(drain)

        watcher = cache.watch(Filter(), None, wake)
        drain()

    async def on_stop(self) -> None:
        self.ready = False
        if self.http is not None:
            await self.http.stop(grace=1.0)
        for cache in self.caches.values():
            for watcher in cache.watchers():
                cache.stop(watcher)
                watcher.wake()

    def on_kill(self) -> None:
        self.ready = False
        if self.http is not None:
            self.http.abort()

    async def run(self) -> None:
        """Keep the store watches alive, compact the store (the namespace controller empties and finalizes
        namespaces being deleted)."""
        next_compaction = self.clock.now() + self.compaction_interval
        while True:
            await self.sleep(_WATCH_CHECK * self.clock.time_scale)
            try:
                await self.client.follow_leader()
                await self._check_watches()
                if self.compaction_interval and self.clock.now() >= next_compaction:
                    next_compaction = self.clock.now() + self.compaction_interval
                    await self._compact()
            except (StoreUnavailable, runtime_errors.ActorError, status.ApiError) as error:
                log.info("%s: housekeeping postponed: %s", self.name, error)

    async def _compact(self) -> None:
        """Upstream's compactor (``--etcd-compaction-interval``, 5 minutes): compact the store at the
        revision seen one interval ago, so the last interval's history stays for watchers that resume."""
        current = int((await self.client.status())["revision"])
        if self._compact_next:
            try:
                await self.client.compact(self._compact_next)
                log.info("%s: compacted the store at revision %d", self.name, self._compact_next)
            except store_errors.StoreError as error:  # compacted already (by another apiserver)
                log.info("%s: compaction at %d skipped: %s", self.name, self._compact_next, error)
        self._compact_next = current

    # -- the store watches ---------------------------------------------------------------------------------

    async def _start_watch(self, kind: kinds.Kind, *, relist: bool = True) -> None:
        cache = self.caches[kind]
        if relist:
            page = await self.objects.list(kind, None)
            cache.replace(page.items, page.revision)
        start = storage.prefix(kind)
        member = self.client.current_member
        tag = self._next_tag
        self._next_tag += 1
        watch = _StoreWatch(kind=kind, member=member, watch_id=0, tag=tag)
        self._store_watches[tag] = watch  # before the call: the backlog may arrive before it returns
        try:
            watch.watch_id = await self.ref(member).call(
                "watch",
                start,
                types.prefix_range_end(start),
                cache.revision + 1,
                watcher=self.name,
                method="on_store_events",
                prev_kv=True,
                tag=tag,
            )
        except store_errors.Compacted:
            del self._store_watches[tag]
            await self._start_watch(kind, relist=True)
        except BaseException:
            del self._store_watches[tag]
            raise

    def on_store_events(self, tag: int, events: list[types.Event]) -> None:
        """What a store member's watch delivers (``tell``): one applied batch's changes of one resource.
        Synchronous, so a co-located member's tell costs no task."""
        watch = self._store_watches.get(tag)
        if watch is not None:  # else a watch we gave up on
            self._apply(watch.kind, events)

    def _apply(self, kind: kinds.Kind, events: list[types.Event]) -> None:
        changes = []
        for event in events:
            if event.type == types.EventType.DELETE:
                if event.prev_kv is None:
                    continue
                obj = storage.decode(event.prev_kv)
                obj["metadata"]["resourceVersion"] = str(event.kv.mod_revision)
                changes.append((DELETED, obj, event.kv.mod_revision))
            else:
                changes.append(("PUT", self.objects.decode(event.kv), event.kv.mod_revision))
        self.caches[kind].apply(changes)

    async def _check_watches(self) -> None:
        """Find store watches that a dead or restarted member no longer serves, and start them again (from
        each cache's revision) on a live member; a kind whose watch cannot start now is tried next time."""
        by_member: dict[str, list[_StoreWatch]] = {}
        for watch in self._store_watches.values():
            by_member.setdefault(watch.member, []).append(watch)
        for member, watches in by_member.items():
            try:
                alive = (
                    await self.ref(member)
                    .options(timeout=5.0 * self.clock.time_scale)  # wall seconds, as the store's
                    .call("watching", [w.watch_id for w in watches])
                )
            except runtime_errors.ActorError:
                alive = [False] * len(watches)
            lost = [w for w, ok in zip(watches, alive, strict=True) if not ok]
            if lost:
                log.warning("%s: %d store watches on %s lost; re-establishing", self.name, len(lost), member)
                if member == self.client.current_member:
                    self.client._switch()
            for watch in lost:
                self._store_watches.pop(watch.tag, None)
                self._unwatched.add(watch.kind)
        for kind in list(self._unwatched):
            try:
                await self._start_watch(kind, relist=False)
            except (runtime_errors.ActorError, StoreUnavailable) as error:
                log.info("%s: watch of %s not re-established yet: %s", self.name, kind.resource, error)
                self.client._switch()
                return
            self._unwatched.discard(kind)

    # -- bootstrap and namespaces --------------------------------------------------------------------------

    async def _bootstrap(self) -> None:
        assert self.rest is not None
        namespaces = self.registry.by_resource("", "v1", "namespaces")
        services = self.registry.by_resource("", "v1", "services")
        assert namespaces is not None and services is not None
        for name in DEFAULT_NAMESPACES:
            if self.caches[namespaces].get(None, name) is None:
                await self._create_quietly(namespaces, None, {"metadata": {"name": name}})
        if self.caches[services].get("default", "kubernetes") is None:
            ip = self.cluster_ips.kubernetes_service_ip
            service = {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": ip,
                    "ports": [
                        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": self.port or 6443}
                    ],
                    "sessionAffinity": "None",
                },
            }
            await self._create_quietly(services, "default", service)
        classes = self.registry.by_resource("scheduling.k8s.io", "v1", "priorityclasses")
        assert classes is not None
        for name, value in validation_scheduling.SYSTEM_CLASSES.items():
            if self.caches[classes].get(None, name) is None:
                description = (
                    "Used for system critical pods that must run in the cluster, but can be moved to another "
                    "node if necessary."
                    if name == "system-cluster-critical"
                    else "Used for system critical pods that must not be moved from their current node."
                )
                pc = {"metadata": {"name": name}, "value": value, "description": description}
                await self._create_quietly(classes, None, pc)

    async def _bootstrap_rbac(self) -> None:
        """Upstream's bootstrap roles and bindings (cluster-admin for system:masters, discovery for everyone
        authenticated, ...), created once."""
        for obj in rbac.bootstrap_policy():
            kind = self.registry.by_kind(obj["apiVersion"], obj["kind"])
            assert kind is not None
            namespace = obj["metadata"].get("namespace")
            if self.caches[kind].get(namespace, obj["metadata"]["name"]) is None:
                await self._create_quietly(kind, namespace, obj)

    async def _create_quietly(self, kind: kinds.Kind, namespace: str | None, obj: dict[str, Any]) -> None:
        assert self.rest is not None
        try:
            await self.rest.create(kind, namespace, obj)
        except status.ApiError as error:
            if error.reason != "AlreadyExists":
                raise

    # -- ServiceAccount tokens ----------------------------------------------------------------------------

    def _lookup(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """For the token authenticator: a ServiceAccount, Pod or Secret as the caches hold it now."""
        kind = self.registry.by_resource("", "v1", resource)
        return self.caches[kind].get(namespace, name) if kind is not None and kind in self.caches else None

    async def _issue_token(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """``serviceaccounts/<name>/token`` (TokenRequest, ``kubectl create token``): a signed, bound JWT."""
        assert self.rest is not None
        accounts = self.registry.by_resource("", "v1", "serviceaccounts")
        assert accounts is not None
        account = await self.rest.get(accounts, namespace, name)
        spec = dict((body or {}).get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise status.invalid(
                "TokenRequest.authentication.k8s.io",
                name,
                [
                    kube_errors.FieldError(
                        field="spec.expirationSeconds",
                        type=kube_errors.FieldErrorType.INVALID,
                        bad_value=seconds,
                        detail="may not specify a duration less than 10 minutes",
                    )
                ],
            )
        now = self.clock.now()
        token = authn.issue_service_account_token(
            key=self._token_key,
            namespace=namespace,
            name=name,
            uid=account["metadata"].get("uid", ""),
            now=now,
            expiration_seconds=seconds,
            audiences=tuple(spec.get("audiences") or ()),
        )
        spec["expirationSeconds"] = seconds
        spec.setdefault("audiences", [authn.DEFAULT_ISSUER])
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": meta.now_rfc3339(now + seconds)},
        }

    # -- what other components answer (pods/log, metrics.k8s.io) ---------------------------------------------

    async def _pod_logs(self, namespace: str, name: str, query: dict[str, str]) -> bytes:
        assert self.rest is not None
        return await proxies.pod_logs(
            self.rest, self.kind("pods"), self.ref, self.clock.now(), namespace, name, query
        )

    def _follow_pod_logs(self, namespace: str, name: str, query: dict[str, str]) -> AsyncIterator[bytes]:
        assert self.rest is not None
        return proxies.follow_pod_logs(
            self.rest, self.kind("pods"), self.ref, self.clock, namespace, name, query
        )

    async def _aggregated(
        self, verb: str, kind: kinds.Kind, namespace: str | None, name: str | None, query: dict[str, str]
    ) -> Any:
        return await proxies.aggregated(self.ref(self.metrics_server), verb, kind, namespace, name, query)

    # -- the admin endpoint's relay to the fault desk (chaos.fault_desk) ------------------------------------

    async def _admin(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """An admin request from HTTP: queued for the desk, answered when it replies."""
        if not self._admin_desks:
            raise status.service_unavailable(
                "no fault desk is attached to this apiserver (start it with kubemu up)"
            )
        self._admin_ids += 1
        request_id = self._admin_ids
        reply: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self._admin_waiting[request_id] = reply
        self._admin_queue.put_nowait((request_id, method, path, body))
        try:
            async with asyncio.timeout(60):
                return await reply
        except TimeoutError:
            raise status.timeout("the fault desk did not answer within 60s") from None
        finally:
            self._admin_waiting.pop(request_id, None)

    async def next_admin_request(self) -> tuple[int, str, str, Any]:
        """For the fault desk: the next admin request (waits for one)."""
        self._admin_desks += 1
        try:
            return await self._admin_queue.get()
        finally:
            self._admin_desks -= 1

    async def admin_reply(self, request_id: int, code: int, answer: Any) -> None:
        reply = self._admin_waiting.get(request_id)
        if reply is not None and not reply.done():
            reply.set_result((code, answer))

    # -- the internal client API ---------------------------------------------------------------------------

    def kind(self, resource: str) -> kinds.Kind:
        """A kind by any name kubectl accepts (``pods``, ``deployments.apps``, ``Deployment``)."""
        kind = self.registry.lookup(resource)
        if kind is None:
            raise status.not_found("", resource)
        return kind

    async def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        assert self.rest is not None
        return await self.rest.get(self.kind(resource), namespace, name)

    async def list_objects(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> dict[str, Any]:
        assert self.rest is not None
        kind = self.kind(resource)
        if kind not in self.caches:
            raise status.method_not_supported(kind, "list")
        options = rest.ListOptions(
            filter=_filter(kind, label_selector, field_selector),
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
        )
        return await self.rest.list_objects(kind, namespace, options)

    async def create(
        self,
        resource: str,
        namespace: str | None,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
        handed_over: bool = False,
    ) -> dict[str, Any]:
        """``handed_over``: the caller made ``obj`` for this call, never reads it again and only reads the
        answer (which shares it), so the apiserver may keep it instead of a copy, and its watch cache
        takes it as written (the event recorder's Events)."""
        assert self.rest is not None
        return await self.rest.create(self.kind(resource), namespace, obj, dry_run=dry_run, fresh=handed_over)

    async def update(
        self, resource: str, namespace: str | None, obj: dict[str, Any], *, subresource: str = ""
    ) -> dict[str, Any]:
        assert self.rest is not None
        name = (obj.get("metadata") or {}).get("name", "")
        return await self.rest.update(self.kind(resource), namespace, name, obj, subresource=subresource)

    async def patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str = "",
    ) -> dict[str, Any]:
        assert self.rest is not None
        return await self.rest.patch(
            self.kind(resource), namespace, name, patch_type, patch, subresource=subresource
        )

    async def bind(self, namespace: str, name: str, node: str) -> dict[str, Any]:
        """``pods/binding`` for the scheduler: the pod as bound (409 if already bound, being deleted, or
        the node does not exist)."""
        assert self.rest is not None
        return await self.rest.bind(self.kind("pods"), namespace, name, node)

    async def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        precondition_uid: str | None = None,
        precondition_resource_version: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        assert self.rest is not None
        options = rest.DeleteOptions(
            grace_period_seconds=grace_period_seconds,
            precondition_uid=precondition_uid,
            precondition_resource_version=precondition_resource_version,
            propagation_policy=propagation_policy,
        )
        obj, _ = await self.rest.delete(self.kind(resource), namespace, name, options)
        return obj

    async def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        watcher: str,
        method: str,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
    ) -> int:
        """Stream changes to actor ``watcher``: ``tell(method, watch_id, [(type, object), ...])``, in order.

        An empty list with the watch closed means the watch ended (an overflow or a re-list): re-list and
        watch again, as an informer does.
        """
        assert self.rest is not None
        kind = self.kind(resource)
        if kind not in self.caches:  # a virtual kind (reviews, metrics): nothing to watch
            raise status.method_not_supported(kind, "watch")
        options = rest.ListOptions(
            filter=_filter(kind, label_selector, field_selector), resource_version=resource_version
        )
        watch_id = self._next_watch
        self._next_watch += 1
        internal = _InternalWatch(watch_id, self.ref(watcher), method, self._woken)
        internal.cache, internal.watcher = self.rest.watch(
            kind, namespace, options, internal.wake, buffer=100_000
        )
        self._internal_watches[watch_id] = internal
        return watch_id

    async def live_watches(self, watch_ids: list[int]) -> list[int]:
        """Which of these internal watches this apiserver still serves: a watcher whose watch is not among
        them (the apiserver restarted, or ended it) lists and watches again, as a client whose watch
        connection broke."""
        return [w for w in watch_ids if w in self._internal_watches]

    def _woken(self, internal: _InternalWatch) -> None:
        """An internal watch has events: send them on the next loop turn, with every other woken watch."""
        self._to_flush.append(internal)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_watches)

    def _flush_watches(self) -> None:
        self._flush_scheduled = False
        woken, self._to_flush = self._to_flush, []
        watches = self._internal_watches
        for internal in woken:
            if watches.get(internal.id) is not internal:
                continue  # stopped meanwhile
            subscription = internal.watcher
            events = [e.pair() for e in subscription.take()]
            if events:
                internal.target.tell(internal.method, internal.id, events)
            if subscription.closed:
                del watches[internal.id]
                internal.cache.stop(subscription)
                internal.target.tell(internal.method, internal.id, [])

    async def stop_watch(self, watch_id: int) -> bool:
        internal = self._internal_watches.pop(watch_id, None)
        if internal is None:
            return False
        internal.cache.stop(internal.watcher)
        return True

    async def info(self) -> dict[str, Any]:
        """``stats()`` for other actors and tests: readiness, port, watches, caches."""
        return self.stats()

    def stats(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "port": self.port,
            "watches": self.api.watches if self.api is not None else 0,
            "internal_watches": len(self._internal_watches),
            "store": dataclasses.asdict(self.client.stats),
            "caches": {
                k.qualified_resource: c.stats() for k, c in self.caches.items() if c.objects or c.watchers()
            },
        }

    def metrics_text(self) -> str:
        """Prometheus text with upstream's names where they exist."""
        lines = [
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, "
            "path and HTTP response code.",
            "# TYPE apiserver_request_total counter",
        ]
        if self.api is not None:
            for (method, path, code), count in sorted(self.api.requests.items()):
                lines.append(
                    f'apiserver_request_total{{code="{code}",path="{path}",verb="{method}"}} {count}'
                )
        lines += [
            "# HELP apiserver_registered_watchers "
            "Number of currently registered watchers for a given resources",
            "# TYPE apiserver_registered_watchers gauge",
        ]
        for kind, cache in sorted(self.caches.items(), key=lambda item: item[0].qualified_resource):
            group = kind.group or ""
            count = len(cache.watchers())
            lines.append(
                f'apiserver_registered_watchers{{group="{group}",kind="{kind.kind}",'
                f'version="{kind.version}"}} {count}'
            )
        lines += [
            "# HELP apiserver_storage_objects "
            "Number of stored objects at the time of last check split by kind.",
            "# TYPE apiserver_storage_objects gauge",
        ]
        for kind, cache in sorted(self.caches.items(), key=lambda item: item[0].qualified_resource):
            lines.append(
                f'apiserver_storage_objects{{resource="{kind.qualified_resource}"}} {len(cache.objects)}'
            )
        return "\n".join(lines) + "\n"


def _filter(kind: kinds.Kind, label_selector: str, field_selector: str) -> Filter:
    return Filter(
        label_selector=labels.parse(label_selector),
        field_selector=fields.convert(fields.parse(field_selector), kind),
    )
