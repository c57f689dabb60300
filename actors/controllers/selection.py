"""``Selection``: the pods a Service selects, remembered from one sync of the Service to the next.

The Endpoints and EndpointSlice controllers compute, on every sync of a Service, something from each pod it
selects (an address, an endpoint, a trigger time), and between two syncs few pods change. A ``Selection``
keeps what was computed for each pod with the pod's version it was computed from, and recomputes it only for
a new version:

- versions are told apart by identity: the cache never mutates an object, and each version is a new object
  (``framework.Cache``: "never to be mutated"); a member holds its pod;
- which pods to look at: with a cache that keeps a change log (``informer.ChangeLog``, as the informers'
  cache does), only the pods stored since the last sync, so a sync costs what changed; otherwise, or when
  much changed (or the log no longer reaches back), every candidate pod (``candidates``), each found by its
  key and compared by identity;
- a ``Selection`` belongs to one version of the Service (its selector, ports and IP families are what the
  values are computed from): the controller starts a new one when the Service changes;
- ``members`` returns what ``endpoints.selected_pods`` would (the pods of the Service's namespace that its
  selector matches, by name), as members with their computed ``value``; ``added`` and ``removed`` say what
  changed since the call before, for a caller that keeps more in step (``subsets.Packing``).

What a sync returns is the same as recomputing everything: the tests of both controllers compare a
controller that remembers with a fresh one after every change, over both kinds of cache.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from actors.controllers import framework, informer
from actors.controllers.framework import Cache, Obj
from kube import labels, meta

T = TypeVar("T")


def candidates(cache: Cache, service: Mapping[str, Any]) -> list[Obj]:
    """The pods that may be the Service's: those with one label it selects on, else its namespace's."""
    chosen = sorted(((service.get("spec") or {}).get("selector") or {}).items())
    if chosen:
        key, value = chosen[0]
        return cache.by_index("pods", framework.LABEL, f"{key}={value}")
    return cache.objects("pods", (service.get("metadata") or {}).get("namespace") or "")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Member(Generic[T]):
    """A selected pod, and what the controller computed from this version of it."""

    pod: Obj
    key: str  # framework.key_of(pod)
    name: str
    value: T


class Selection(Generic[T]):
    """The selected pods of one version of a Service, remembered across syncs (see the module docstring).
    ``compute`` makes a member's ``value`` from its pod.

    After each ``members`` call, ``added`` and ``removed`` are the members that came and went since the call
    before, in no particular order (a pod's new version is both: its old member went, its new one came);
    ``generation`` counts the calls, so that what a caller keeps in step with them can tell whether it saw
    every change."""

    def __init__(self, service: Obj, selector: labels.Selector, compute: Callable[[Obj], T]) -> None:
        self.service = service
        self.selector = selector
        self.generation = 0
        self.added: list[Member[T]] = []
        self.removed: list[Member[T]] = []
        self._compute = compute
        self._namespace = (service.get("metadata") or {}).get("namespace") or ""
        self._members: dict[str, Member[T]] = {}  # pod key -> its member
        self._keys: list[str] = []  # the members' keys, in order (in one namespace: by name)
        self._selected: list[Member[T]] = []  # the members, in the same order
        self._cursor = informer.Cursor("pods")
        self._looked_at = 0  # the candidates of the last full look

    def members(self, cache: Cache) -> list[Member[T]]:
        """The selected pods' members, by name: a list to read, not to change, and only until the next call
        (which may return it again, changed)."""
        changed = self._cursor.read(cache)
        if changed is not None and len(changed) <= self._looked_at // 4 + 64:  # cheaper than a full look
            self._update(cache, dict.fromkeys(changed))
        else:
            self._walk(cache)
        self.generation += 1
        return self._selected

    def _update(self, cache: Cache, keys: Iterable[str]) -> None:
        """Look at the pods of ``keys`` (stored since the last call) and nothing else."""
        added, removed = [], []
        for key in keys:
            old = self._members.get(key)
            namespace, name = framework.split_key(key)
            pod = cache.get("pods", namespace, name)
            if old is not None and old.pod is pod:
                continue
            new = self._member(pod) if pod is not None else None
            if old is None and new is None:
                continue  # not one of the Service's pods, before or now
            if old is not None:
                removed.append(old)
            if new is not None:
                added.append(new)
            self._put(key, old, new)
        self.added, self.removed = added, removed

    def _put(self, key: str, old: Member[T] | None, new: Member[T] | None) -> None:
        i = bisect.bisect_left(self._keys, key)
        if new is None:
            if old is not None:
                del self._members[key], self._keys[i], self._selected[i]
        elif old is None:
            self._members[key] = new
            self._keys.insert(i, key)
            self._selected.insert(i, new)
        else:
            self._members[key] = self._selected[i] = new

    def _walk(self, cache: Cache) -> None:
        """Look at every candidate pod; a member whose pod is the same version is kept."""
        known = self._members
        members: dict[str, Member[T]] = {}
        added = []
        pods = candidates(cache, self.service)
        self._looked_at = len(pods)
        for pod in pods:
            md = pod.get("metadata") or {}
            namespace, name = md.get("namespace") or "", md.get("name") or ""
            key = f"{namespace}/{name}" if namespace else name
            member = known.get(key)
            if member is None or member.pod is not pod:
                member = self._member(pod)
                if member is None:
                    continue
                added.append(member)
            members[key] = member
        removed = [m for key, m in known.items() if members.get(key) is not m]
        if added or removed:
            self._keys = sorted(members)
            self._selected = [members[k] for k in self._keys]
        self._members, self.added, self.removed = members, added, removed

    def _member(self, pod: Obj) -> Member[T] | None:
        md = pod.get("metadata") or {}
        namespace, name = md.get("namespace") or "", md.get("name") or ""
        if namespace != self._namespace or not self.selector.matches(meta.labels_of(pod)):
            return None
        key = f"{namespace}/{name}" if namespace else name
        return Member(pod=pod, key=key, name=name, value=self._compute(pod))
