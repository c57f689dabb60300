"""``ControllerManager``: the kube-controller-manager actor (``kube-controller-manager``): runs controllers.

Each controller is a plain ``framework.Controller`` (``keys_for`` and a pure ``reconcile``); this actor is
everything around it, as upstream's controller-manager and client-go give every controller:

- leader election through the Lease ``kube-system/kube-controller-manager`` (15 s lease, renewed every 2 s,
  given up after 10 s without a renewal: upstream's defaults). Only the holder starts informers and workers;
  one that loses the lease crashes, as upstream's process exits, and its restart campaigns again;
- one informer per resource that any controller watches (``informer.InformerSet``). Each event settles
  expectations first (an added object whose controller ownerReference is of a controller's ``kind`` is a
  creation it expected; one that starts terminating or is gone, a deletion; a controller's own object gone
  forgets its key's expectations), then calls every interested controller's ``keys_for`` and adds the keys
  to that controller's ``WorkQueue``. Handlers only enqueue;
- once every informer has listed (``WaitForCacheSync``), N workers per controller (upstream's
  ``--concurrent-*-syncs``: ``concurrent_syncs[name]``, else the controller's own ``concurrent_syncs``
  attribute, else ``workers``, 5) each take a key, call ``reconcile(key, cache, Context(now,
  pending))`` and carry out its actions in order through the apiserver's internal API (``Writer``). Any
  failure, and a ``reconcile`` that raises, re-queues the key with the rate limiter's back-off (logged and
  counted: a control loop survives every exception); success ``forget``s the key's back-off and, with
  ``requeue_after``, adds it again after that delay. There is no periodic resync.

Writes (``Writer``): the key's expected creates and deletes (``expect=True``) are set as its expectations
before any write (upstream's ``ExpectCreations``/``ExpectDeletions``, deletions named by
``"<resource>:<ns/name>"``). A run of consecutive expected creates of one resource goes in slow-start
batches (1, 2, 4, ...) made concurrently, stopping at the first batch with a failure; a run of consecutive
expected deletes of one resource is made concurrently, as upstream's ReplicaSet controller does. Writes that
failed or were never made are settled in the expectations at once, since no event will come for them. A 404
on a delete means the object is gone: observed, not a failure. A ``Create`` or ``Delete`` with
``on_success``/``on_failure`` gets that Event about its ``owner`` as soon as its own write is done, naming
the object the apiserver created (its generated name) or the apiserver's error: upstream's pod-control
events ("Created pod: web-x7k2p", "Error creating: ..."). Events are recorded in the background through an
``EventRecorder`` whose component is the controller's ``name`` (at most ``MAX_PENDING_EVENTS`` in flight per
controller; more are dropped, as upstream's broadcaster drops when its queue is full).

Which controllers run: ``controllers=[...]`` names from ``registry.factories()`` (``"*"`` is every one,
``"-name"`` leaves one out, as ``--controllers``), or controller instances (the local backend only: spawn
arguments must be plain data elsewhere).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from actors import leader_election
from actors.apiserver import status
from actors.apiserver.events import EventRecorder
from actors.controllers import expectations as expectations_
from actors.controllers import framework, informer, workqueue
from actors.controllers import registry as registry_
from actors.runtime.actor import Actor
from actors.runtime.ref import ActorRef
from kube import meta

log = logging.getLogger("kubemu.controllers.manager")

Factory = registry_.Factory

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
DEFAULT_WORKERS = 5
SLOW_START_INITIAL_BATCH = 1
MAX_PENDING_EVENTS = 1000
LIST_RETRY = 1.0  # cluster seconds between failed list-and-watch attempts
WATCH_CHECK = 10.0  # cluster seconds between checks that the apiserver still serves the informers' watches
WATCH_METHOD = "on_watch_events"
POD_METRICS = "podmetrics"  # metrics.k8s.io PodMetrics, polled from metrics-server, not watched
METRICS_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period


LostLeadership = leader_election.LostLeadership


def resolve(
    names: Sequence[str | framework.Controller], registry: Mapping[str, Factory] | None = None
) -> list[framework.Controller]:
    """Controllers from ``--controllers``-style names (``"*"``, ``"name"``, ``"-name"``) or instances;
    names come from ``registry.factories()`` unless a table is given."""
    if registry is None:
        registry = registry_.factories()
    chosen: dict[str, framework.Controller | None] = {}
    excluded = {n[1:] for n in names if isinstance(n, str) and n.startswith("-")}
    for entry in names:
        if not isinstance(entry, str):
            chosen[entry.name] = entry
        elif entry == "*":
            chosen.update({name: None for name in registry if name not in chosen})
        elif not entry.startswith("-"):
            if entry not in registry:
                raise KeyError(f"unknown controller {entry!r}; known: {', '.join(sorted(registry))}")
            chosen.setdefault(entry, None)
    made = [c if c is not None else registry[n]() for n, c in chosen.items() if n not in excluded]
    names_made = [c.name for c in made]
    if len(set(names_made)) != len(names_made):
        raise ValueError(f"two controllers share a name: {sorted(names_made)}")
    return made


Api = framework.Api  # what ``Writer`` needs of the apiserver


Record = Callable[[framework.Obj, str, str, str], None]  # (obj, type, reason, message)


def deleted_key(resource: str, obj_key: str) -> str:
    """How a deletion is named in the expectations: ``"pods:default/web-1"``."""
    return f"{resource}:{obj_key}"


@dataclasses.dataclass(slots=True)
class _Unsettled:
    adds: int
    deletes: list[str]


class Writer:
    """Carries out one controller's actions for a key; see the module docstring."""

    def __init__(
        self, *, api: Api, expectations: expectations_.ControllerExpectations, record: Record
    ) -> None:
        self.api = api
        self.expectations = expectations
        self.record = record

    async def carry_out(self, key: str, actions: Sequence[framework.Action]) -> None:
        """Every action in order; raises the first failure (after settling what it leaves unmade)."""
        creates = sum(1 for a in actions if isinstance(a, framework.Create) and a.expect)
        deletes = [_deletion(a) for a in actions if isinstance(a, framework.Delete) and a.expect]
        if creates or deletes:
            self.expectations.set(key, adds=creates, deletes=deletes)
        unsettled = _Unsettled(adds=creates, deletes=list(deletes))
        try:
            i = 0
            while i < len(actions):
                action = actions[i]
                if isinstance(action, framework.Create | framework.Delete) and action.expect:
                    j = i + 1
                    while j < len(actions) and _same_run(action, actions[j]):
                        j += 1
                    if isinstance(action, framework.Create):
                        await self._slow_start(actions[i:j], unsettled)
                    else:
                        await self._delete_all(actions[i:j], unsettled)
                    i = j
                    continue
                await self.write(action)
                i += 1
        finally:
            if unsettled.adds:
                self.expectations.lower(key, adds=unsettled.adds)
            for name in unsettled.deletes:
                self.expectations.deletion_observed(key, name)

    async def _slow_start(self, run: Sequence[framework.Action], unsettled: _Unsettled) -> None:
        remaining, size = list(run), SLOW_START_INITIAL_BATCH
        while remaining:
            batch, remaining = remaining[:size], remaining[size:]
            outcomes = await asyncio.gather(*(self.write(a) for a in batch), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            unsettled.adds -= len(batch) - len(failures)  # made: the informer settles them
            if failures:
                raise failures[0]
            size *= 2

    async def _delete_all(self, run: Sequence[framework.Action], unsettled: _Unsettled) -> None:
        outcomes = await asyncio.gather(*(self.write(a) for a in run), return_exceptions=True)
        failures = []
        for action, outcome in zip(run, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures.append(outcome)
            elif outcome:  # deleted: the informer settles it (a 404 stays unsettled: settled here)
                assert isinstance(action, framework.Delete)
                unsettled.deletes.remove(_deletion(action))
        if failures:
            raise failures[0]

    async def write(self, action: framework.Action) -> bool:
        """One action through the internal API, then the Event its outcome calls for (a ``Create``'s or
        ``Delete``'s ``on_success``/``on_failure``); False only for a delete of an object already gone."""
        try:
            done, name = await self._call(action)
        except Exception as error:
            if isinstance(action, framework.Create | framework.Delete):
                reason = error.reason if isinstance(error, status.ApiError) else ""
                self._record(framework.failure_event(action, str(error), reason=reason))
            raise
        if done and isinstance(action, framework.Create | framework.Delete):
            self._record(framework.success_event(action, name))
        return done

    async def _call(self, action: framework.Action) -> tuple[bool, str]:
        """Make the write: (False for a delete that found nothing, the written object's name)."""
        api = self.api
        if isinstance(action, framework.Create):
            created = await api.call("create", action.resource, action.namespace, action.body)
            return True, _name_of(created) or _name_of(action.body)
        if isinstance(action, framework.Delete):
            options: dict[str, Any] = {}
            if action.grace_period_seconds is not None:
                options["grace_period_seconds"] = action.grace_period_seconds
            if action.uid is not None:
                options["precondition_uid"] = action.uid
            if action.propagation is not None:
                options["propagation_policy"] = action.propagation
            try:
                await api.call("delete", action.resource, action.namespace, action.name, **options)
            except status.ApiError as error:
                if error.code == 404:
                    return False, action.name
                raise
            return True, action.name
        if isinstance(action, framework.Patch):
            await api.call(
                "patch",
                action.resource,
                action.namespace,
                action.name,
                action.patch_type,
                action.patch,
                subresource=action.subresource,
            )
            return True, action.name
        if isinstance(action, framework.Update):
            namespace = (action.body.get("metadata") or {}).get("namespace") or None
            await api.call("update", action.resource, namespace, action.body, subresource=action.subresource)
            return True, _name_of(action.body)
        if isinstance(action, framework.Run):
            await action.work(api)
            return True, ""
        self._record(action)
        return True, ""

    def _record(self, event: framework.Event | None) -> None:
        if event is not None:
            self.record(event.obj, event.type, event.reason, event.message)


def _name_of(obj: object) -> str:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    return str(md.get("name") or "") if isinstance(md, dict) else ""


def _deletion(action: framework.Delete) -> str:
    return deleted_key(
        action.resource, f"{action.namespace}/{action.name}" if action.namespace else action.name
    )


def _same_run(first: framework.Create | framework.Delete, other: framework.Action) -> bool:
    """Expected creates (or deletes) of one resource go together, as upstream batches one kind of call."""
    return (
        type(other) is type(first)
        and isinstance(other, framework.Create | framework.Delete)
        and other.expect
        and other.resource == first.resource
    )


@dataclasses.dataclass(slots=True, eq=False)
class _Loop:
    """One controller's machinery: its queue, expectations, writer and counters."""

    controller: framework.Controller
    queue: workqueue.WorkQueue
    expectations: expectations_.ControllerExpectations
    workers: int
    writer: Writer | None = None
    recorder: EventRecorder | None = None
    syncs: int = 0
    errors: int = 0
    reconcile_errors: int = 0
    key_errors: int = 0
    events_in_flight: int = 0
    events_dropped: int = 0


class ControllerManager(Actor):
    """See the module docstring."""

    def __init__(
        self,
        *,
        apiserver: str = "apiserver-0",
        controllers: Sequence[str | framework.Controller] = ("*",),
        workers: int = DEFAULT_WORKERS,
        concurrent_syncs: Mapping[str, int] | None = None,
        leader_elect: bool = True,
        metrics_server: str = "metrics-server",
    ) -> None:
        """Workers per controller: ``concurrent_syncs[controller.name]``, else the controller's own
        ``concurrent_syncs`` attribute if it has one (upstream's default for it), else ``workers``."""
        self.apiserver = apiserver
        self.leader_elect = leader_elect
        self.metrics_server = metrics_server
        self.controllers = resolve(controllers)
        self._workers = workers
        self._concurrent = dict(concurrent_syncs or {})
        self.leading = False
        self.identity = ""
        self._loops: list[_Loop] = []
        self._interested: dict[str, list[_Loop]] = {}
        resources = [r for c in self.controllers for r in (c.resource, *c.watches)]
        self.informers = informer.InformerSet(
            resources, watcher="", method=WATCH_METHOD, polled=[POD_METRICS]
        )
        self._resync = asyncio.Event()

    async def on_start(self) -> None:
        self.informers.watcher = self.name
        for controller in self.controllers:
            loop = _Loop(
                controller=controller,
                queue=workqueue.WorkQueue(name=controller.name, clock=self.clock),
                expectations=expectations_.ControllerExpectations(clock=self.clock),
                workers=self._concurrent.get(
                    controller.name, getattr(controller, "concurrent_syncs", None) or self._workers
                ),
            )
            self._loops.append(loop)
            for resource in dict.fromkeys((controller.resource, *controller.watches)):
                self._interested.setdefault(resource, []).append(loop)
        self.informers.add_handler(self._on_event)

    async def on_stop(self) -> None:
        for loop in self._loops:
            loop.queue.shut_down()

    async def run(self) -> None:
        self.identity = f"{self.name}_{meta.new_uid(self.rng)}"
        api = self.ref(self.apiserver)
        await leader_election.lead(
            self, api, namespace=LEASE_NAMESPACE, name=LEASE_NAME, elect=self.leader_elect
        )
        log.info("%s: leading as %s", self.name, self.identity)
        for loop in self._loops:
            name = loop.controller.name
            loop.recorder = EventRecorder(apiserver=api, component=name, clock=self.clock)
            loop.writer = Writer(api=api, expectations=loop.expectations, record=self._recorder_for(loop))
        if POD_METRICS in self.informers.informers:
            self.start_task(self._poll_metrics(), name="metrics")
        self.start_task(self._check_watches(api), name="watch-check")
        started = False
        while True:
            if not self.informers.watching:
                try:
                    await self.informers.sync(api)
                except Exception as error:  # the apiserver is away or busy: list and watch again later
                    log.info("%s: list and watch not done: %s", self.name, error)
                    await self.sleep(LIST_RETRY)
                    continue
            if not started and self.informers.has_synced:
                started = True
                for loop in self._loops:
                    for _ in range(loop.workers):
                        self.start_task(self._worker(loop), name=f"{loop.controller.name}-worker")
            self._resync.clear()
            if self.informers.watching:
                await self._resync.wait()

    # -- informers -----------------------------------------------------------------------------------------

    async def _check_watches(self, api: ActorRef) -> None:
        """Every ``WATCH_CHECK`` seconds, whether the apiserver still serves the informers' watches (a
        restarted apiserver lost them; its watchers would otherwise wait for events forever)."""
        while True:
            await self.sleep(WATCH_CHECK)
            try:
                if not await self.informers.check(api):
                    self._resync.set()
            except Exception as error:  # the apiserver is away: the next check asks again
                log.info("%s: watches not checked: %s", self.name, error)

    async def _poll_metrics(self) -> None:
        """``podmetrics`` for the HPA: metrics-server's PodMetrics, read every ``METRICS_PERIOD`` as the
        HPA's metrics client does each sync (none while metrics-server is away: the HPA reports it)."""
        metrics = self.informers[POD_METRICS]
        while True:
            try:
                listed = await self.ref(self.metrics_server).call("list_metrics", "pods")
                items = listed["items"]
                for item in items:  # PodMetrics have no version: the sample's time tells a new one apart
                    item["metadata"]["resourceVersion"] = str(item.get("timestamp") or "")
            except Exception as error:  # metrics-server is not running or not answering
                log.debug("%s: no pod metrics: %s", self.name, error)
                items = []
            metrics.replace(items, "")
            self._resync.set()
            await self.sleep(METRICS_PERIOD)

    def on_watch_events(self, watch_id: int, events: list[tuple[str, framework.Obj]]) -> None:
        """Every watch of this actor delivers here (a synchronous handler: no task per batch)."""
        if not self.informers.deliver(watch_id, events):
            self._resync.set()

    def _on_event(self, resource: str, kind: str, obj: framework.Obj, old: framework.Obj | None) -> None:
        cache = self.informers.cache
        terminating = kind == informer.DELETED or framework.is_terminating(obj)
        was_terminating = old is not None and framework.is_terminating(old)
        for loop in self._interested.get(resource, ()):
            controller, expected = loop.controller, loop.expectations
            owner = framework.controller_key(obj, controller.kind)
            if owner is not None and owner in expected:
                if terminating and not was_terminating:
                    expected.deletion_observed(owner, deleted_key(resource, framework.key_of(obj)))
                elif kind == informer.ADDED and not terminating:
                    expected.creation_observed(owner)
            if kind == informer.DELETED and resource == controller.resource:
                expected.delete(framework.key_of(obj))
            try:
                keys = list(
                    controller.keys_for(resource, obj, None if kind == informer.ADDED else old, cache)
                )
            except Exception:
                loop.key_errors += 1
                log.exception(
                    "%s: keys_for failed on %s %s", controller.name, resource, framework.key_of(obj)
                )
                continue
            for key in keys:
                loop.queue.add(key)

    # -- workers -------------------------------------------------------------------------------------------

    async def _worker(self, loop: _Loop) -> None:
        while True:
            try:
                key = await loop.queue.get()
            except workqueue.ShutDown:
                return
            try:
                await self._sync(loop, key)
            except Exception:  # _sync handles its own; this is the last line of defence
                log.exception("%s: sync of %s failed", loop.controller.name, key)
                loop.queue.add_rate_limited(key)
            finally:
                loop.queue.done(key)

    async def _sync(self, loop: _Loop, key: str) -> None:
        controller, queue = loop.controller, loop.queue
        context = framework.Context(now=self.clock.now(), pending=loop.expectations.pending(key))
        loop.syncs += 1
        try:
            result = controller.reconcile(key, self.informers.cache, context)
        except Exception:
            loop.errors += 1
            loop.reconcile_errors += 1
            log.exception("%s: reconcile of %s raised; retrying with back-off", controller.name, key)
            queue.add_rate_limited(key)
            return
        assert loop.writer is not None
        try:
            await loop.writer.carry_out(key, result.actions)
        except framework.Requeue as later:
            log.debug("%s: %s: %s", controller.name, key, later)
            queue.forget(key)
            queue.add_after(key, later.after)
            return
        except Exception as error:
            loop.errors += 1
            log.info("%s: error syncing %s, requeuing: %s", controller.name, key, error)
            queue.add_rate_limited(key)
            return
        queue.forget(key)
        if result.requeue_after is not None:
            queue.add_after(key, result.requeue_after)

    def _recorder_for(self, loop: _Loop) -> Record:
        def record(obj: framework.Obj, type: str, reason: str, message: str) -> None:
            if loop.events_in_flight >= MAX_PENDING_EVENTS or loop.recorder is None:
                loop.events_dropped += 1
                return
            loop.events_in_flight += 1
            self.start_task(self._send_event(loop, loop.recorder, obj, type, reason, message), name="event")

        return record

    async def _send_event(
        self, loop: _Loop, recorder: EventRecorder, obj: framework.Obj, type: str, reason: str, message: str
    ) -> None:
        try:
            await recorder.event(obj, type, reason, message)  # never raises
        finally:
            loop.events_in_flight -= 1

    # -- observability -------------------------------------------------------------------------------------

    def expectations_of(self, controller: str) -> expectations_.ControllerExpectations:
        """The expectations the manager keeps for the controller named ``controller``."""
        return next(loop.expectations for loop in self._loops if loop.controller.name == controller)

    def stats(self) -> dict[str, Any]:
        controllers = {}
        for loop in self._loops:
            queue = loop.queue.stats()
            controllers[loop.controller.name] = {
                "syncs": loop.syncs,
                "errors": loop.errors,
                "reconcile_errors": loop.reconcile_errors,
                "key_errors": loop.key_errors,
                "depth": queue["workqueue_depth"],
                "workers": loop.workers,
                "expectations": len(loop.expectations),
                "events_dropped": loop.events_dropped,
                "queue": queue,
            }
        return {
            "leading": self.leading,
            "identity": self.identity,
            "synced": self.informers.has_synced,
            "controllers": controllers,
            "informers": self.informers.stats(),
            "metrics": self.metrics(),
        }

    def metrics(self) -> dict[str, float]:
        """client-go's workqueue metrics with their ``name`` label, as ``{'metric{name="..."}': value}``."""
        out: dict[str, float] = {}
        for loop in self._loops:
            label = f'{{name="{loop.controller.name}"}}'
            for metric, value in loop.queue.stats().items():
                if metric.startswith("workqueue_"):
                    out[metric + label] = value
        return out

    def metrics_text(self) -> str:
        """The metrics in Prometheus' text format."""
        return "".join(f"{name} {value}\n" for name, value in sorted(self.metrics().items()))
