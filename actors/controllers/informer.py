"""Informers: each resource's objects, listed and watched from the apiserver, indexed, read by controllers.

client-go's reflector, store, indexer and shared informer (``tools/cache``), for the apiserver actor's
internal API:

- ``Informer`` keeps one resource's objects by key (``"ns/name"``, or ``"name"`` when cluster-scoped) and the
  indexes of ``framework`` (``NAMESPACE``, ``OWNER``, ``NODE``, ``LABEL``), each kept by the change of every
  event (the values the old object had leave, the new ones come), never by a scan; a value's keys are
  sorted the first time it is read and kept in order from then on (a key joining or leaving is a bisect),
  so reading an index, as a controller does on every sync, costs a list of its objects and no sort.
  ``replace`` loads a list,
  ``apply`` applies watch events; registered handlers are called ``(resource, type, obj, old)`` after the
  store shows the change (``type`` ``ADDED``, ``MODIFIED`` or ``DELETED``; ``old`` is None for an add, the
  last stored version otherwise). A re-list synthesises the difference as client-go's ``Replace`` does: an
  add for each new object, an update for each changed one (by ``resourceVersion``), a delete for each one
  gone. Unchanged objects raise nothing (upstream replays them as updates; here a re-list is not a resync).
- ``InformerSet`` is the informers of one actor: the watch delivers to an actor method
  (``tell(method, watch_id, [(type, obj), ...])``, synchronous), so the actor's method hands
  ``(watch_id, events)`` to ``deliver``, which routes them by watch id; events of a watch it does not know
  (one a previous incarnation of the actor started) are dropped and that watch is stopped. ``sync(api)``
  lists (``resourceVersion=0``, from the apiserver's watch cache) and watches every informer that is not
  watching. An empty event list closes a watch: the next ``sync`` watches again from the last version seen,
  as the reflector does, and re-lists when that is too old (410 Expired). Events for a watch whose id the
  ``watch`` call has not returned yet (a delayed reply) are held until it does.
- ``InformerCache`` is ``framework.Cache`` over the informers of a set. Beyond the protocol it offers
  ``changes(resource, since)``: the keys stored since a change number, so that a controller that remembers
  what it computed from each object (``selection.Selection``) reads only what changed. Each informer numbers
  its changes and keeps the recent ones (at least ``CHANGE_LOG`` and twice its object count); a number older
  than that, or none, gets no keys, and the reader looks at everything instead.

Objects are stored as they arrive and shared with every reader: nothing here or in a reader may mutate them.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from actors.apiserver import status
from actors.controllers import framework
from actors.runtime.ref import ActorRef

log = logging.getLogger("kubemu.controllers.informer")

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
CHANGE_LOG = 4096  # changes an informer keeps at least, for ``changes``
INDEXES = (framework.NAMESPACE, framework.OWNER, framework.NODE, framework.LABEL)

Obj = framework.Obj
Handler = Callable[[str, str, Obj, Obj | None], None]  # (resource, type, obj, old)


class Informer:
    """One resource's objects and indexes; see the module docstring."""

    def __init__(self, resource: str, *, indexes: Iterable[str] = INDEXES) -> None:
        self.resource = resource
        self.has_synced = False  # the first list is in
        self.resource_version = ""  # the last version seen (list or event)
        self.watch_id: int | None = None
        self._objects: dict[str, Obj] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {name: {} for name in indexes}
        self._sorted: list[str] | None = []  # the keys in order (None: to sort), kept in step by bisect
        # (index, value) -> the value's keys in order, for the values read so far: the same keys as
        # self._indexes[index][value], kept in step with it; dropped when the value has no key left
        self._sorted_values: dict[tuple[str, str], list[str]] = {}
        self._handlers: list[Handler] = []
        # the keys of the latest changes, in order; _changes[0] is change number _changes_base
        self._changes: list[str] = []
        self._changes_base = 0
        self.counters = {"lists": 0, "watches": 0, "events": 0, "handler_errors": 0}

    def __len__(self) -> int:
        return len(self._objects)

    @property
    def watching(self) -> bool:
        return self.watch_id is not None

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Obj | None:
        return self._objects.get(key)

    def keys(self) -> list[str]:
        """Every key, in order (a copy: the informer keeps its own list in step with the store)."""
        return list(self._ordered_keys())

    def _ordered_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._objects)
        return self._sorted

    def objects(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            objects = self._objects
            return [objects[k] for k in self._ordered_keys()]
        return self.by_index(framework.NAMESPACE, namespace)

    def by_index(self, index: str, value: str) -> list[Obj]:
        """The objects whose ``index`` has ``value``, in key order."""
        keys = self._sorted_values.get((index, value))
        if keys is None:
            try:
                members = self._indexes[index].get(value, ())
            except KeyError:
                raise KeyError(f"informer of {self.resource} has no index {index!r}") from None
            if not members:
                return []  # not kept: values nobody holds would pile up
            keys = self._sorted_values[(index, value)] = sorted(members)
        objects = self._objects
        return [objects[k] for k in keys]

    def changes(self, since: int | None) -> tuple[int, list[str] | None]:
        """The number of the next change, and the keys stored (added, changed or deleted; a key may repeat)
        from change number ``since`` on; None for the keys when ``since`` is None or no longer kept."""
        end = self._changes_base + len(self._changes)
        if since is None or not self._changes_base <= since <= end:
            return end, None
        return end, self._changes[since - self._changes_base :]

    # -- feeding -------------------------------------------------------------------------------------------

    def replace(self, items: Iterable[Obj], resource_version: str) -> None:
        """Load a list: the store becomes exactly ``items``; handlers see the difference."""
        self.counters["lists"] += 1
        listed: dict[str, Obj] = {}
        for obj in items:
            listed[framework.key_of(obj)] = obj
        for key, obj in listed.items():
            old = self._objects.get(key)
            if old is None:
                self._store(key, obj, None)
                self._notify(ADDED, obj, None)
            elif _version(old) != _version(obj):
                self._store(key, obj, old)
                self._notify(MODIFIED, obj, old)
        for key in [k for k in self._objects if k not in listed]:
            old = self._objects[key]
            self._store(key, None, old)
            self._notify(DELETED, old, old)
        self.resource_version = resource_version
        self.has_synced = True

    def apply(self, events: Iterable[tuple[str, Obj]]) -> None:
        """Apply watch events in order (an ``ADDED`` of a known key reads as an update, and so on)."""
        for kind, obj in events:
            self.counters["events"] += 1
            version = _version(obj)
            if version:
                self.resource_version = version
            if kind not in (ADDED, MODIFIED, DELETED):
                continue  # a bookmark (its version is all it brings) or an unknown type
            key = framework.key_of(obj)
            old = self._objects.get(key)
            if old is not None and kind != DELETED and version and _version(old) == version:
                continue  # a repeat of what the store holds (a resumed watch may overlap its list)
            if kind == DELETED:
                if old is None:
                    continue
                self._store(key, None, old)
                self._notify(DELETED, obj, old)
            else:
                self._store(key, obj, old)
                self._notify(ADDED if old is None else MODIFIED, obj, old)

    def _store(self, key: str, obj: Obj | None, old: Obj | None) -> None:
        if obj is None:
            del self._objects[key]
        else:
            self._objects[key] = obj
        self._changes.append(key)
        if len(self._changes) > max(CHANGE_LOG, 2 * len(self._objects)):
            half = len(self._changes) // 2
            del self._changes[:half]
            self._changes_base += half
        if self._sorted is not None and (obj is None) != (old is None):
            if obj is None:
                del self._sorted[bisect.bisect_left(self._sorted, key)]
            else:
                bisect.insort(self._sorted, key)
        for index, entries in self._indexes.items():
            before = framework.index_values(index, old) if old is not None else []
            after = framework.index_values(index, obj) if obj is not None else []
            if before == after:
                continue
            for value in before:
                if value not in after:
                    keys = entries.get(value)
                    if keys is not None and key in keys:
                        keys.discard(key)
                        ordered = self._sorted_values.get((index, value))
                        if not keys:
                            del entries[value]
                            self._sorted_values.pop((index, value), None)
                        elif ordered is not None:
                            del ordered[bisect.bisect_left(ordered, key)]
            for value in after:
                keys = entries.setdefault(value, set())
                if key not in keys:
                    keys.add(key)
                    ordered = self._sorted_values.get((index, value))
                    if ordered is not None:
                        bisect.insort(ordered, key)

    def _notify(self, kind: str, obj: Obj, old: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(self.resource, kind, obj, old)
            except Exception:  # a handler's bug must not stop the informer (or crash its actor)
                self.counters["handler_errors"] += 1
                log.exception("informer %s: handler failed on %s %s", self.resource, kind, _name(obj))

    def stats(self) -> dict[str, Any]:
        return {
            "objects": len(self._objects),
            "synced": self.has_synced,
            "watching": self.watching,
            "resource_version": self.resource_version,
            **self.counters,
        }


class InformerCache:
    """``framework.Cache`` over informers by resource; reading a resource without one is an error."""

    def __init__(self, informers: Mapping[str, Informer]) -> None:
        self._informers = informers

    def informer(self, resource: str) -> Informer:
        try:
            return self._informers[resource]
        except KeyError:
            raise KeyError(f"no informer for {resource}: name it in the controller's watches") from None

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        return self.informer(resource).get(namespace, name)

    def objects(self, resource: str, namespace: str | None = None) -> list[Obj]:
        return self.informer(resource).objects(namespace)

    def by_index(self, resource: str, index: str, value: str) -> list[Obj]:
        return self.informer(resource).by_index(index, value)

    def changes(self, resource: str, since: int | None) -> tuple[int, list[str] | None]:
        """``Informer.changes`` of the resource's informer."""
        return self.informer(resource).changes(since)


@runtime_checkable
class ChangeLog(Protocol):
    """A ``framework.Cache`` that says which objects were stored since a change number (``InformerCache``)."""

    def changes(self, resource: str, since: int | None) -> tuple[int, list[str] | None]: ...


class Cursor:
    """A reader's place in the change log of one resource (for a controller that remembers what it computed
    from each object): ``read`` gives the keys stored since the last read (a key may repeat), or None when
    it cannot tell (a cache without a log, another cache than last time, a log that no longer reaches
    back, the first read): then the reader looks at everything."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self._at: tuple[ChangeLog, int] | None = None  # the cache and its change number at the last read

    def read(self, cache: framework.Cache) -> list[str] | None:
        if not isinstance(cache, ChangeLog):
            self._at = None
            return None
        since = self._at[1] if self._at is not None and self._at[0] is cache else None
        end, keys = cache.changes(self.resource, since)
        self._at = (cache, end)
        return keys


class InformerSet:
    """The informers one actor owns; its watch method (``method`` of actor ``watcher``) calls ``deliver``."""

    def __init__(
        self, resources: Iterable[str], *, watcher: str, method: str, polled: Iterable[str] = ()
    ) -> None:
        """``polled``: resources filled by their owner's ``replace`` calls instead of a watch (metrics)."""
        self.watcher = watcher
        self.method = method
        self.informers: dict[str, Informer] = {r: Informer(r) for r in dict.fromkeys(resources)}
        self.polled = frozenset(polled) & set(self.informers)
        self.cache = InformerCache(self.informers)
        self._by_watch: dict[int, Informer] = {}
        self._registering = False  # a watch call is out: events of an unknown id may be its own
        self._early: dict[int, list[list[tuple[str, Obj]]]] = {}
        self._api: ActorRef | None = None  # the apiserver of the last sync
        self._stopped: set[int] = set()  # stale watches already asked to stop

    def __getitem__(self, resource: str) -> Informer:
        return self.informers[resource]

    def add_handler(self, handler: Handler) -> None:
        for informer in self.informers.values():
            informer.add_handler(handler)

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self.informers.values())

    @property
    def watching(self) -> bool:
        return all(i.watching for r, i in self.informers.items() if r not in self.polled)

    def deliver(self, watch_id: int, events: list[tuple[str, Obj]]) -> bool:
        """Route one batch of a watch; returns False when a watch closed (call ``sync`` again)."""
        informer = self._by_watch.get(watch_id)
        if informer is None:
            if self._registering:
                self._early.setdefault(watch_id, []).append(events)
            elif events:
                self._stop(watch_id)
            return True
        if events:
            informer.apply(events)
            return True
        del self._by_watch[watch_id]
        informer.watch_id = None
        log.info("%s: watch of %s closed", self.watcher, informer.resource)
        return False

    async def sync(self, api: ActorRef) -> None:
        """List and watch every informer that is not watching (in order); raises what the calls raise."""
        self._api = api
        for informer in self.informers.values():
            if informer.watching or informer.resource in self.polled:
                continue
            if informer.has_synced and await self._watch(api, informer, informer.resource_version):
                continue
            listed = await api.call("list_objects", informer.resource, None, resource_version="0")
            informer.replace(listed["items"], str(listed["metadata"].get("resourceVersion") or ""))
            if not await self._watch(api, informer, informer.resource_version):
                raise status.ApiError(
                    {"code": 410, "reason": "Expired", "message": f"watch of {informer.resource} expired"}
                )

    async def _watch(self, api: ActorRef, informer: Informer, resource_version: str) -> bool:
        """Watch from ``resource_version``; False when it is too old (410: re-list)."""
        self._registering = True
        try:
            watch_id = await api.call(
                "watch",
                informer.resource,
                None,
                watcher=self.watcher,
                method=self.method,
                resource_version=resource_version,
            )
        except status.ApiError as error:
            if error.code == 410:
                return False
            raise
        finally:
            self._registering = False
            early, self._early = self._early, {}
        informer.watch_id = watch_id
        informer.counters["watches"] += 1
        self._by_watch[watch_id] = informer
        for events in early.pop(watch_id, ()):
            self.deliver(watch_id, events)
        for stale in early:
            self._stop(stale)
        return True

    async def check(self, api: ActorRef) -> bool:
        """Ask the apiserver whether it still serves every watch here; forget those it does not (it
        restarted: its watches went with it) and return False when there were any (call ``sync``)."""
        ids = list(self._by_watch)
        if not ids:
            return True
        live = set(await api.call("live_watches", ids))
        for watch_id in ids:
            if watch_id not in live:
                informer = self._by_watch.pop(watch_id)
                informer.watch_id = None
                log.info("%s: watch of %s is gone from the apiserver", self.watcher, informer.resource)
        return len(live) == len(ids)

    def _stop(self, watch_id: int) -> None:
        """Ask the apiserver to end a watch nobody here reads (one a previous incarnation started)."""
        if self._api is not None and watch_id not in self._stopped:
            self._stopped.add(watch_id)
            self._api.tell("stop_watch", watch_id)

    def stats(self) -> dict[str, Any]:
        return {resource: informer.stats() for resource, informer in self.informers.items()}


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _name(obj: Obj) -> str:
    return framework.key_of(obj)
