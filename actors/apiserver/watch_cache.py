"""``WatchCache``: one resource's objects and recent changes, fed by one store watch, read by every watcher.

As upstream's cacher (``staging/src/k8s.io/apiserver/pkg/storage/cacher``):

- ``replace(objects, revision)`` loads a list; ``apply(events)`` applies the store's changes in revision
  order. The cache then holds every object as of ``revision`` and the last ``capacity`` changes.
- ``list`` serves ``resourceVersion=0`` lists without touching the store.
- ``watch`` registers a ``Watcher`` from a resource version: from the history when it is recent enough
  (older than the history is ``410 Expired: too old resource version``), or, with no version or ``0``,
  from synthetic ``ADDED`` events for every object that exists now, as upstream does.
- Each change goes to the watchers that could care about it. Watchers selecting pods by
  ``spec.nodeName=<node>`` (every kubelet) are indexed by that node, and watchers of one object by
  ``metadata.name`` (every kubelet's watch on its own Node) by that name, so 10,000 of them cost O(1) per
  event.
  The others are grouped by their filter: a change is converted once per distinct filter (10,000
  kube-proxies watching Services all ask the same), then appended to each watcher's queue.
- A watcher's ``wake`` is called when its queue goes from empty to not empty (and when it closes); its
  reader then ``take``s everything queued.
- Label and field selectors see transitions as upstream shows them: an object that starts matching arrives
  as ``ADDED``, one that stops matching as ``DELETED``.
- A watcher whose buffer overflows (it does not read fast enough) is closed and must re-list, as upstream
  closes a slow watcher; it never slows the others down.

Pure apart from the watchers' ``wake`` callbacks: no I/O, no clock. Objects in the cache are shared by
every reader and must never be modified (copy before changing one).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from actors.apiserver import status
from kube import codec, fields, kinds, labels

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
DEFAULT_CAPACITY = 10_000
DEFAULT_BUFFER = 10_000  # events a watcher may have unread before it is closed


@dataclasses.dataclass(slots=True)
class Event:
    """One change: the type, the object after it (before it, for ``DELETED``), and its revision."""

    type: str
    object: dict[str, Any]
    revision: int
    previous: dict[str, Any] | None = None
    _json: bytes | None = None
    _pair: tuple[str, dict[str, Any]] | None = None

    def pair(self) -> tuple[str, dict[str, Any]]:
        """``(type, object)``, as the internal client delivers it; built once however many watchers get it."""
        if self._pair is None:
            self._pair = (self.type, self.object)
        return self._pair

    def json_line(self) -> bytes:
        """``{"type":...,"object":...}\\n``, encoded once however many watchers send it."""
        if self._json is None:
            self._json = codec.to_json({"type": self.type, "object": self.object}) + b"\n"
        return self._json


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """What a watcher or a list wants: a namespace (None: all), a label and a field selector."""

    namespace: str | None = None
    label_selector: labels.Selector = dataclasses.field(default_factory=labels.everything)
    field_selector: fields.Selector = fields.EVERYTHING

    def matches(self, obj: dict[str, Any], kind: kinds.Kind) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if not self.label_selector.empty and not self.label_selector.matches(meta.get("labels") or {}):
            return False
        return self.field_selector.empty or self.field_selector.matches_object(obj, kind)


class Watcher:
    """One watch: events queue here until its reader takes them; ``wake()`` says there are some."""

    def __init__(self, *, filter: Filter, wake: Callable[[], None], buffer: int = DEFAULT_BUFFER) -> None:
        self.filter = filter
        self.wake = wake
        self.buffer = buffer
        self.events: list[Event] = []
        self.closed = False
        self.overflowed = False
        self.node: str | None = None  # its index entry, if any: "node:<spec.nodeName>" or "name:<key>"

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def _push(self, event: Event) -> None:
        if self.closed:
            return
        events = self.events
        if len(events) >= self.buffer:
            self.overflowed = self.closed = True
            self.wake()
            return
        events.append(event)
        if len(events) == 1:
            self.wake()


class WatchCache:
    """See the module docstring."""

    def __init__(self, kind: kinds.Kind, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.kind = kind
        self.capacity = capacity
        self.objects: dict[str, dict[str, Any]] = {}  # "namespace/name" or "name" -> the object now
        self._namespaces: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> its part of ``objects``
        self.revision = 0  # every change up to here is applied
        self.oldest = 0  # the history holds every change after this revision
        self.history: collections.deque[Event] = collections.deque(maxlen=capacity)
        self.ready = False
        self._groups: dict[Filter, set[Watcher]] = {}  # not indexed by node: by filter
        self._by_node: dict[str, set[Watcher]] = {}
        self._indexed_by_node = kind.group == "" and kind.resource == "pods"

    # -- feeding -------------------------------------------------------------------------------------------

    def replace(self, objects: Iterable[dict[str, Any]], revision: int) -> None:
        """Load a fresh list at ``revision``. Watchers of the old contents are closed (they re-list)."""
        self.objects = {}
        self._namespaces = {}
        for obj in objects:
            self._put(_key(obj), obj)
        self.revision = self.oldest = revision
        self.history.clear()
        for watcher in self.watchers():
            self._close(watcher)
        self.ready = True

    def apply(self, changes: Iterable[tuple[str, dict[str, Any], int]]) -> None:
        """Apply ``(type, object, revision)`` changes in revision order (``DELETED`` carries the last
        version of the object); changes at or below ``revision`` are ignored (a re-established watch may
        repeat some)."""
        for change_type, obj, revision in changes:
            if revision <= self.revision:
                continue
            key = _key(obj)
            previous = self.objects.get(key)
            if change_type == DELETED:
                self._drop(key, obj)
            else:
                self._put(key, obj)
                change_type = ADDED if previous is None else MODIFIED
            event = Event(type=change_type, object=obj, revision=revision, previous=previous)
            if len(self.history) == self.history.maxlen:
                self.oldest = self.history[0].revision
            self.history.append(event)
            self.revision = revision
            self._dispatch(event)

    # -- reading -------------------------------------------------------------------------------------------

    def select(self, filter: Filter) -> list[dict[str, Any]]:
        """Every object that matches, in key order (namespace, then name), as of ``revision``; one
        namespace costs what that namespace holds, not the whole resource."""
        name = filter.field_selector.requires_exact_match("metadata.name")
        if name is not None and (not self.kind.namespaced or filter.namespace is not None):
            # one object by name (a kubelet's own Node): a lookup, not a scan
            found = self.get(filter.namespace, name)
            return [found] if found is not None and filter.matches(found, self.kind) else []
        everything = filter.namespace is None
        scope = self.objects if everything else self._namespaces.get(filter.namespace or "", {})
        kind = self.kind
        return [obj for _, obj in sorted(scope.items()) if filter.matches(obj, kind)]

    def _put(self, key: str, obj: dict[str, Any]) -> None:
        self.objects[key] = obj
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._namespaces.setdefault(namespace, {})[key] = obj

    def _drop(self, key: str, obj: dict[str, Any]) -> None:
        self.objects.pop(key, None)
        namespace = obj["metadata"].get("namespace")
        scope = self._namespaces.get(namespace) if namespace else None
        if scope is not None:
            scope.pop(key, None)
            if not scope:
                del self._namespaces[namespace]

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(f"{namespace}/{name}" if namespace else name)

    def watch(
        self,
        filter: Filter,
        resource_version: int | None,
        wake: Callable[[], None],
        *,
        buffer: int = DEFAULT_BUFFER,
    ) -> Watcher:
        """A watcher from ``resource_version`` (None or 0: synthetic ADDED of what exists now, then
        changes)."""
        watcher = Watcher(filter=filter, wake=wake, buffer=buffer)
        if resource_version:
            if resource_version < self.oldest:
                raise status.too_old_resource_version(resource_version, self.oldest + 1)
            backlog = [e for e in self.history if e.revision > resource_version]
        else:
            backlog = [Event(type=ADDED, object=obj, revision=self.revision) for obj in self.select(filter)]
        self._register(watcher)
        for event in backlog:
            converted = self._convert(event, watcher.filter) if resource_version else event
            if converted is not None:
                watcher._push(converted)
        return watcher

    def stop(self, watcher: Watcher) -> None:
        self._unregister(watcher)
        watcher.closed = True

    def watchers(self) -> list[Watcher]:
        return [w for groups in (self._groups, self._by_node) for group in groups.values() for w in group]

    def stats(self) -> dict[str, int]:
        return {
            "objects": len(self.objects),
            "revision": self.revision,
            "history": len(self.history),
            "watchers": sum(len(g) for g in self._groups.values())
            + sum(len(g) for g in self._by_node.values()),
            "indexed_watchers": sum(len(g) for g in self._by_node.values()),
        }

    # -- dispatch ------------------------------------------------------------------------------------------

    def _register(self, watcher: Watcher) -> None:
        selector = watcher.filter.field_selector
        node = selector.requires_exact_match("spec.nodeName") if self._indexed_by_node else None
        name = selector.requires_exact_match("metadata.name")
        if node is not None:
            watcher.node = f"node:{node}"
        elif name is not None and (not self.kind.namespaced or watcher.filter.namespace is not None):
            watcher.node = (
                f"name:{watcher.filter.namespace}/{name}" if self.kind.namespaced else f"name:{name}"
            )
        if watcher.node is not None:
            self._by_node.setdefault(watcher.node, set()).add(watcher)
        else:
            self._groups.setdefault(watcher.filter, set()).add(watcher)

    def _unregister(self, watcher: Watcher) -> None:
        groups: dict[Any, set[Watcher]] = self._by_node if watcher.node is not None else self._groups
        key: Any = watcher.node if watcher.node is not None else watcher.filter
        group = groups.get(key)
        if group is not None:
            group.discard(watcher)
            if not group:
                del groups[key]

    def _close(self, watcher: Watcher) -> None:
        self._unregister(watcher)
        watcher.closed = True
        watcher.wake()

    def _dispatch(self, event: Event) -> None:
        if not self._groups and not self._by_node:
            return  # nobody watches this resource
        overflowed: list[Watcher] = []
        for filter, group in list(self._groups.items()):
            converted = self._convert(event, filter)
            if converted is not None:
                for watcher in group:
                    watcher._push(converted)
                    if watcher.closed:
                        overflowed.append(watcher)
        if self._by_node:
            keys = {f"name:{_key(event.object)}"}
            if self._indexed_by_node:
                keys |= {
                    f"node:{node}" for node in (_node_of(event.object), _node_of(event.previous)) if node
                }
            for key in keys:
                for watcher in self._by_node.get(key, ()):
                    converted = self._convert(event, watcher.filter)
                    if converted is not None:
                        watcher._push(converted)
                        if watcher.closed:
                            overflowed.append(watcher)
        for watcher in overflowed:
            self._unregister(watcher)

    def _convert(self, event: Event, filter: Filter) -> Event | None:
        """The event as this watcher sees it through its selectors (upstream's
        ``cacheWatcher.convertToWatchEvent``)."""
        kind = self.kind
        if event.type == DELETED:
            return event if filter.matches(event.object, kind) else None
        now = filter.matches(event.object, kind)
        before = event.previous is not None and filter.matches(event.previous, kind)
        if now and before:
            return event
        if now:
            return (
                event
                if event.type == ADDED
                else Event(type=ADDED, object=event.object, revision=event.revision)
            )
        if before:
            assert event.previous is not None
            gone = {
                **event.previous,
                "metadata": {**event.previous["metadata"], "resourceVersion": str(event.revision)},
            }
            return Event(type=DELETED, object=gone, revision=event.revision)
        return None


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def _node_of(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("spec") or {}).get("nodeName") or "")
