"""What every controller of the controller-manager is made of: the cache it reads, the actions it returns.

DESIGN.md's reconcile pattern, with the decision and the I/O apart:

- a controller is a plain object with ``reconcile(key, cache, ctx) -> Result``. ``reconcile`` reads only
  the ``Cache`` (the informers' indexed objects) and the ``Context`` (cluster time, the key's outstanding
  expectations), and returns the writes to make as ``Action`` values. It never awaits and never writes:
  a test builds a ``DictCache``, calls ``reconcile`` and compares the actions;
- a ``Create`` or ``Delete`` may carry the Events its outcome calls for (``EventTemplate``: ``on_success``
  with the written object's name, ``on_failure`` with the error, about its ``owner``), since only the runner
  learns a generated name or an error; ``create_pod``/``delete_pod`` are upstream's ``RealPodControl``;
- the helpers every controller shares: keys, selectors, ownerReferences, and the pod predicates
  (``is_pod_active``, ``is_pod_ready``, ``is_pod_available``: upstream's ``podutil`` and
  ``controller.IsPodActive``);
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
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from kube import errors, labels, meta

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
class Event:
    """A core/v1 Event about ``obj`` (``Normal`` or ``Warning``, upstream's reason and wording)."""

    obj: Obj
    type: str
    reason: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventTemplate:
    """An Event that depends on a write's outcome, which only the runner learns: upstream's pod controls
    (``RealPodControl``, ``StatefulPodControl``) record one after each create or delete. In ``message``,
    ``{name}`` stands for the written object's name (for a create, the one the apiserver chose from
    ``generateName``) and ``{error}`` for the failure's message."""

    type: str
    reason: str
    message: str

    def about(self, obj: Obj, *, name: str = "", error: str = "") -> Event:
        """The Event about ``obj`` with the placeholders filled in."""
        message = self.message.replace("{name}", name).replace("{error}", error)
        return Event(obj=obj, type=self.type, reason=self.reason, message=message)


def _check_owner(action: Create | Delete) -> None:
    if action.owner is None and (action.on_success is not None or action.on_failure is not None):
        raise ValueError("an action with outcome events needs the owner they are about")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Create:
    """Create ``body`` (``generateName`` allowed). ``expect`` counts it in the key's expectations until the
    informer of ``resource`` shows it; consecutive expected creates of one resource go in slow-start batches
    (1, 2, 4, ...), stopping at the first failure, as upstream's ``slowStartBatch``.

    ``on_success`` / ``on_failure``: the Event the runner records about ``owner`` once the create is made
    (``{name}``: the created object's name) or has failed (``{error}``). No failure event is recorded for a
    create of a fixed name that finds it taken (409 ``AlreadyExists``): the object is there, as upstream's
    StatefulSet and Deployment controllers treat it."""

    resource: str
    namespace: str | None
    body: Obj
    expect: bool = False
    owner: Obj | None = None
    on_success: EventTemplate | None = None
    on_failure: EventTemplate | None = None

    def __post_init__(self) -> None:
        _check_owner(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    """Delete an object; ``uid`` is a precondition (a replaced object of the same name is left alone);
    ``propagation`` is ``Background``, ``Foreground`` or ``Orphan`` (``None``: the kind's default).

    ``on_success`` / ``on_failure`` as for ``Create`` (``{name}``: ``name``). An object already gone (404) is
    neither: no event, as upstream's ``RealPodControl.DeletePod``."""

    resource: str
    namespace: str | None
    name: str
    uid: str | None = None
    propagation: str | None = None
    grace_period_seconds: int | None = None
    expect: bool = False
    owner: Obj | None = None
    on_success: EventTemplate | None = None
    on_failure: EventTemplate | None = None

    def __post_init__(self) -> None:
        _check_owner(self)


def success_event(action: Create | Delete, name: str) -> Event | None:
    """The Event to record once ``action`` was carried out on the object now called ``name``."""
    if action.on_success is None or action.owner is None:
        return None
    return action.on_success.about(action.owner, name=name)


def failure_event(action: Create | Delete, error: str, *, reason: str = "") -> Event | None:
    """The Event to record once ``action`` failed with ``error`` (the apiserver's message; ``reason`` its
    ``Status`` reason). None for a create of a fixed name that found it taken (``AlreadyExists``)."""
    if action.on_failure is None or action.owner is None:
        return None
    if isinstance(action, Delete):
        name = action.name
    else:
        name = str((action.body.get("metadata") or {}).get("name") or "")
        if name and reason == "AlreadyExists":
            return None
    return action.on_failure.about(action.owner, name=name, error=error)


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


class Api(Protocol):
    """What writes need of the apiserver: an ``ActorRef`` (or a fake one in tests)."""

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any: ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """Work that needs the apiserver's answers as it goes (upstream's namespace deleter lists what is left
    after its deletes): ``work(api)`` is awaited with the internal API. It may raise ``Requeue`` to have
    the key looked at again later without counting as a failure."""

    work: Callable[[Api], Awaitable[None]]
    what: str = ""


class Requeue(Exception):
    """Raised by a ``Run``'s work: not done yet, look again after ``after`` cluster seconds."""

    def __init__(self, after: float, message: str = "") -> None:
        super().__init__(message or f"not done: again in {after:g} s")
        self.after = after


Action = Create | Delete | Patch | Update | Event | Run


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
    md = obj.get("metadata") or {}
    for ref in md.get("ownerReferences") or ():  # meta.controller_of, read in place (called per event)
        if ref.get("controller") is True:
            if (ref.get("kind") or "") != kind:
                return None
            name = ref.get("name") or ""
            namespace = md.get("namespace") or ""
            return f"{namespace}/{name}" if namespace else name
    return None


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


# -- pods: upstream's podutil and controller.IsPodActive ---------------------------------------------------


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """``controller.IsPodActive``: not terminating and not in a terminal phase."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_terminating(pod)


def ready_since(pod: Mapping[str, Any]) -> tuple[bool, float | None]:
    """Whether the pod is Ready, and since when (the Ready condition's lastTransitionTime, if readable)."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            if condition.get("status") != "True":
                return False, None
            return True, parse_time(condition.get("lastTransitionTime"))
    return False, None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """``podutil.IsPodReady``."""
    return ready_since(pod)[0]


def available_at(pod: Mapping[str, Any], min_ready_seconds: int) -> float | None:
    """When a pod is (or will be) available: ``-inf`` when it counts whatever the time, the moment it starts
    to count otherwise (``inf``: Ready without a transition time, never by the clock), ``None`` when it is
    not Ready."""
    ready, since = ready_since(pod)
    if not ready:
        return None
    if min_ready_seconds <= 0:
        return -math.inf
    if since is None:
        return math.inf
    return since + min_ready_seconds


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """``podutil.IsPodAvailable``: Ready for more than ``min_ready_seconds`` (strictly, as upstream)."""
    at = available_at(pod, min_ready_seconds)
    return at is not None and (at == -math.inf or at < now)


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a Ready pod counts as available (0 when it already does); ``None`` when it is not Ready
    or has no transition time to count from."""
    at = available_at(pod, min_ready_seconds)
    if at is None or at == math.inf:
        return None
    return max(0.0, at - now)


def parse_time(text: object) -> float | None:
    """An RFC 3339 timestamp as seconds; ``None`` when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return meta.parse_rfc3339(text)
    except errors.ValidationError:
        return None


# -- pod control: upstream's RealPodControl ------------------------------------------------------------------

POD_CREATED = EventTemplate(type="Normal", reason="SuccessfulCreate", message="Created pod: {name}")
POD_CREATE_FAILED = EventTemplate(type="Warning", reason="FailedCreate", message="Error creating: {error}")
POD_DELETED = EventTemplate(type="Normal", reason="SuccessfulDelete", message="Deleted pod: {name}")
POD_DELETE_FAILED = EventTemplate(type="Warning", reason="FailedDelete", message="Error deleting: {error}")


def create_pod(owner: Obj, pod: Obj) -> Create:
    """``RealPodControl.CreatePods``: an expected create of ``pod`` in the owner's namespace, recorded on the
    owner as ``SuccessfulCreate`` "Created pod: <name>" or ``FailedCreate`` "Error creating: <error>"."""
    return Create(
        resource="pods",
        namespace=(owner.get("metadata") or {}).get("namespace") or None,
        body=pod,
        expect=True,
        owner=owner,
        on_success=POD_CREATED,
        on_failure=POD_CREATE_FAILED,
    )


def delete_pod(owner: Obj, pod: Mapping[str, Any], *, expect: bool = True) -> Delete:
    """``RealPodControl.DeletePod``: delete ``pod`` (its uid a precondition), recorded on the owner as
    ``SuccessfulDelete`` "Deleted pod: <name>" or ``FailedDelete`` "Error deleting: <error>"."""
    md = pod.get("metadata") or {}
    return Delete(
        resource="pods",
        namespace=md.get("namespace") or None,
        name=str(md.get("name") or ""),
        uid=md.get("uid") or None,
        expect=expect,
        owner=owner,
        on_success=POD_DELETED,
        on_failure=POD_DELETE_FAILED,
    )


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
