"""What every controller of the controller-manager is made of: the cache it reads, the actions it returns.

DESIGN.md's reconcile pattern, with the decision and the I/O apart:

- a controller is a plain object with ``reconcile(key, cache, ctx) -> Result``. ``reconcile`` reads only
  the ``Cache`` (the informers' indexed objects) and the ``Context`` (cluster time, the key's outstanding
  expectations), and returns the writes to make as ``Action`` values. It never awaits and never writes:
  a test builds a ``DictCache``, calls ``reconcile`` and compares the actions;
- ``keys_for`` maps an informer event (on the controller's own kind or on one it watches, such as the pods
  a ReplicaSet owns) to the keys to enqueue, as upstream's event handlers do;
- the controller-manager (``manager.py``) runs the informers, the work queue (deduplicated keys, one worker
  per key at a time, rate-limited retries) and the expectations, and carries the actions out through the
  apiserver's internal API: a conflict or a failed write re-queues the key with back-off, and the next
  ``reconcile`` starts again from the cache, so nothing is lost.

Keys are ``"namespace/name"`` (``"name"`` for cluster-scoped objects), as client-go's
``MetaNamespaceKeyFunc``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from kube import labels, meta

Obj = dict[str, Any]

# Indexes every informer keeps (client-go's cache.Indexers), by index name:
NAMESPACE = "namespace"  # metadata.namespace
OWNER = "owner"  # the uid of every ownerReference
NODE = "node"  # spec.nodeName (pods)
LABEL = "label"  # "key=value" for each label


class Cache(Protocol):
    """The informers' objects as a controller reads them: read-only dicts, never to be mutated."""

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None: ...

    def objects(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Every object of a resource (in one namespace when ``namespace`` is given), in key order."""
        ...

    def by_index(self, resource: str, index: str, value: str) -> list[Obj]:
        """The objects whose ``index`` (``NAMESPACE``, ``OWNER``, ``NODE``, ``LABEL``) has ``value``."""
        ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A key's outstanding expectations: creates and deletes it made that the cache has not shown yet
    (client-go's ``ControlleeExpectations``). A controller that manages replicas waits while any are out."""

    adds: int = 0
    deletes: int = 0

    @property
    def satisfied(self) -> bool:
        return self.adds <= 0 and self.deletes <= 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    now: float  # cluster time, seconds since the epoch
    pending: Pending = Pending()


# -- actions ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Create:
    """Create ``body`` (``generateName`` allowed). ``expect`` counts it in the key's expectations until the
    informer of ``resource`` shows it; consecutive expected creates go in slow-start batches (1, 2, 4, ...),
    stopping at the first failure, as upstream's ``slowStartBatch``."""

    resource: str
    namespace: str | None
    body: Obj
    expect: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    """Delete an object; ``uid`` is a precondition (a replaced object of the same name is left alone);
    ``propagation`` is ``Background``, ``Foreground`` or ``Orphan`` (``None``: the kind's default)."""

    resource: str
    namespace: str | None
    name: str
    uid: str | None = None
    propagation: str | None = None
    grace_period_seconds: int | None = None
    expect: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    """A JSON merge patch (``patch_type`` may name another); ``subresource`` ``"status"`` for status."""

    resource: str
    namespace: str | None
    name: str
    patch: Any
    subresource: str = ""
    patch_type: str = "application/merge-patch+json"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """A whole-object update guarded by the ``resourceVersion`` it carries: a stale one is a 409, and the
    key is retried from the cache."""

    resource: str
    body: Obj
    subresource: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A core/v1 Event about ``obj`` (``Normal`` or ``Warning``, upstream's reason and wording)."""

    obj: Obj
    type: str
    reason: str
    message: str


Action = Create | Delete | Patch | Update | Event


@dataclasses.dataclass(slots=True, kw_only=True)
class Result:
    actions: list[Action] = dataclasses.field(default_factory=list)
    requeue_after: float | None = None  # look again after this many cluster seconds (a timer, a deadline)


class Controller(Protocol):
    """Read-only attributes (plain class attributes satisfy them):

    - ``name``: the component that writes Events, "replicaset-controller";
    - ``resource``: the resource its keys name, "replicasets";
    - ``kind``: its kind, whose controller ownerReferences settle expectations, "ReplicaSet";
    - ``watches``: every resource whose informer it reads, its own included.
    """

    @property
    def name(self) -> str: ...

    @property
    def resource(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def watches(self) -> tuple[str, ...]: ...

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        """Keys to enqueue for an added (``old`` None), changed or deleted object of ``resource``."""
        ...

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result: ...


# -- helpers shared by the controllers ---------------------------------------------------------------------


def key_of(obj: Mapping[str, Any]) -> str:
    return str(meta.key_of(obj))


def split_key(key: str) -> tuple[str | None, str]:
    k = meta.parse_key(key)
    return (k.namespace or None), k.name


def controller_key(obj: Mapping[str, Any], kind: str) -> str | None:
    """The key of the object's controller when that controller is of ``kind`` (same namespace)."""
    ref = meta.controller_of(obj)
    if ref is None or ref.kind != kind:
        return None
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    return f"{namespace}/{ref.name}" if namespace else ref.name


def selector_of(obj: Mapping[str, Any]) -> labels.Selector:
    """``spec.selector`` as a Selector: a LabelSelector (apps/v1, batch/v1) or a plain map
    (ReplicationController, Service). A missing or empty selector selects nothing, as upstream."""
    selector = (obj.get("spec") or {}).get("selector")
    if not selector:
        return labels.nothing()
    if "matchLabels" in selector or "matchExpressions" in selector:
        return labels.from_label_selector(selector)
    return labels.from_set(selector)


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> Obj:
    """The ownerReference a controller puts on what it creates (``blockOwnerDeletion`` set, as upstream)."""
    md = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


class DictCache:
    """A ``Cache`` over plain dicts, for tests and for pure callers: ``DictCache({"pods": [pod, ...]})``."""

    def __init__(self, objects: Mapping[str, Iterable[Obj]] | None = None) -> None:
        self._objects: dict[str, dict[str, Obj]] = {}
        for resource, items in (objects or {}).items():
            for obj in items:
                self.put(resource, obj)

    def put(self, resource: str, obj: Obj) -> None:
        self._objects.setdefault(resource, {})[key_of(obj)] = obj

    def remove(self, resource: str, obj: Obj) -> None:
        self._objects.get(resource, {}).pop(key_of(obj), None)

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        key = f"{namespace}/{name}" if namespace else name
        return self._objects.get(resource, {}).get(key)

    def objects(self, resource: str, namespace: str | None = None) -> list[Obj]:
        items = self._objects.get(resource, {})
        return [
            items[k]
            for k in sorted(items)
            if namespace is None or (items[k].get("metadata") or {}).get("namespace") == namespace
        ]

    def by_index(self, resource: str, index: str, value: str) -> list[Obj]:
        return [obj for obj in self.objects(resource) if value in index_values(index, obj)]


def index_values(index: str, obj: Mapping[str, Any]) -> list[str]:
    """The values an object has under an index (an object may have several, e.g. one per owner)."""
    md = obj.get("metadata") or {}
    if index == NAMESPACE:
        return [md.get("namespace") or ""]
    if index == OWNER:
        return [ref.get("uid", "") for ref in md.get("ownerReferences") or ()]
    if index == NODE:
        node = (obj.get("spec") or {}).get("nodeName")
        return [node] if node else []
    if index == LABEL:
        return [f"{k}={v}" for k, v in (md.get("labels") or {}).items()]
    raise KeyError(f"unknown index {index!r}")
