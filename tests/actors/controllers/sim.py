"""A tiny in-memory cluster for testing pure controllers: a ``DictCache`` that actions are applied to.

``Sim`` plays the parts a controller's actions reach in a real cluster, just enough for a controller test
to read as a scenario:

- the apiserver: ``Create`` names the object (``generateName`` plus a deterministic 5-character suffix),
  gives it a uid, a ``resourceVersion``, a ``creationTimestamp`` and, for kinds with a spec, a
  ``generation``; ``Patch`` applies a merge or strategic merge patch (``status`` subresource: status only;
  main resource: status kept, ``generation`` bumped when the spec changes) and honours a
  ``metadata.resourceVersion`` precondition; ``Delete`` honours a uid precondition and removes the object
  at once (a ReplicaSet's pods go with it, as the garbage collector's background deletion would);
- the runner: ``apply`` executes actions in order and stops at the first failure, which it returns;
  ``Event`` actions are collected in ``events``, and so are the outcome events of a ``Create`` or
  ``Delete`` (``on_success`` with the generated name, ``on_failure`` with the refusal);
- the scheduler and kubelet: ``start_pods`` binds pending pods to a node and makes them Running (and Ready
  at the current time, unless told otherwise).

Time is ``now`` (seconds), moved by the test with ``tick``. Nothing here is asynchronous.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from actors.controllers import framework
from actors.controllers.framework import (
    Action,
    Context,
    Create,
    Delete,
    DictCache,
    Event,
    Obj,
    Patch,
    Pending,
    Result,
    Update,
)
from kube import meta, strategic_merge_patch
from kube import patch as json_patch

T0 = 1_700_000_000.0
_KINDS = {
    "pods": ("v1", "Pod"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "replicationcontrollers": ("v1", "ReplicationController"),
    "deployments": ("apps/v1", "Deployment"),
}


class SimError(Exception):
    """A write the apiserver would refuse: ``reason`` is upstream's (Conflict, NotFound, AlreadyExists)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class Sim:
    now: float = T0
    cache: DictCache = dataclasses.field(default_factory=DictCache)
    events: list[Event] = dataclasses.field(default_factory=list)
    last_failure: SimError | None = None
    _serial: int = 0

    # -- objects ---------------------------------------------------------------------------------------------

    def add(self, resource: str, obj: Obj) -> Obj:
        """Store an object as the apiserver would create it (uid, resourceVersion, timestamps filled in)."""
        obj = meta.deep_copy(obj)
        api_version, kind = _KINDS.get(resource, ("v1", ""))
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            md["name"] = md.get("generateName", "") + self._suffix()
        if self.cache.get(resource, md.get("namespace") or None, md["name"]) is not None:
            raise SimError("AlreadyExists", f'{resource} "{md["name"]}" already exists')
        md.pop("generateName", None)
        md.setdefault("uid", f"uid-{md['name']}")
        md.setdefault("creationTimestamp", meta.now_rfc3339(self.now))
        md["resourceVersion"] = self._rv()
        if resource == "pods":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif "spec" in obj:
            md.setdefault("generation", 1)
        self.cache.put(resource, obj)
        return obj

    def get(self, resource: str, key: str) -> Obj:
        namespace, name = framework.split_key(key)
        obj = self.cache.get(resource, namespace, name)
        assert obj is not None, f"{resource} {key} not found"
        return obj

    def objects(self, resource: str, namespace: str | None = None) -> list[Obj]:
        return self.cache.objects(resource, namespace)

    def tick(self, seconds: float) -> None:
        self.now += seconds

    # -- the controller loop --------------------------------------------------------------------------------

    def reconcile(self, controller: framework.Controller, key: str, pending: Pending | None = None) -> Result:
        """Run one reconcile and apply what it returns; a refused action is kept in ``last_failure``."""
        result = controller.reconcile(key, self.cache, Context(now=self.now, pending=pending or Pending()))
        self.last_failure = self.apply(result.actions)
        return result

    def settle(self, controllers: Sequence[framework.Controller], *, rounds: int = 50) -> int:
        """Reconcile every object of every controller until none returns a write; the rounds it took."""
        for round_ in range(1, rounds + 1):
            wrote = False
            for controller in controllers:
                for obj in list(self.cache.objects(controller.resource)):
                    result = self.reconcile(controller, framework.key_of(obj))
                    wrote = wrote or any(not isinstance(a, Event) for a in result.actions)
            if not wrote:
                return round_
        raise AssertionError(f"no steady state after {rounds} rounds")

    def apply(self, actions: Iterable[Action]) -> SimError | None:
        for action in actions:
            try:
                name = self._apply(action)
            except SimError as error:
                if isinstance(action, Create | Delete):
                    self._record(framework.failure_event(action, error.message, reason=error.reason))
                return error
            if isinstance(action, Create | Delete):
                self._record(framework.success_event(action, name))
        return None

    def _record(self, event: Event | None) -> None:
        if event is not None:
            self.events.append(event)

    def _apply(self, action: Action) -> str:
        """Carry out one action; the name of the object written."""
        if isinstance(action, Event):
            self.events.append(action)
        elif isinstance(action, Create):
            body = meta.deep_copy(action.body)
            if action.namespace:
                body.setdefault("metadata", {})["namespace"] = action.namespace
            return str(self.add(action.resource, body)["metadata"]["name"])
        elif isinstance(action, Delete):
            self._delete(action)
            return action.name
        elif isinstance(action, Patch):
            self._patch(action)
        elif isinstance(action, Update):
            self._update(action)
        return ""

    def _existing(self, resource: str, namespace: str | None, name: str) -> Obj:
        obj = self.cache.get(resource, namespace, name)
        if obj is None:
            raise SimError("NotFound", f'{resource} "{name}" not found')
        return obj

    def _delete(self, action: Delete) -> None:
        obj = self._existing(action.resource, action.namespace, action.name)
        uid = (obj.get("metadata") or {}).get("uid")
        if action.uid is not None and action.uid != uid:
            raise SimError("Conflict", f"Precondition failed: UID in precondition: {action.uid}")
        self.cache.remove(action.resource, obj)
        for dependent in list(self.cache.by_index("pods", framework.OWNER, uid or "")):
            self.cache.remove("pods", dependent)

    def _patch(self, action: Patch) -> None:
        old = self._existing(action.resource, action.namespace, action.name)
        _, kind = _KINDS.get(action.resource, ("v1", ""))
        self._write(action.resource, old, patched(old, action, kind), action.subresource)

    def _update(self, action: Update) -> None:
        md = action.body.get("metadata") or {}
        old = self._existing(action.resource, md.get("namespace") or None, md.get("name", ""))
        self._write(action.resource, old, meta.deep_copy(action.body), action.subresource)

    def _write(self, resource: str, old: Obj, new: Obj, subresource: str) -> None:
        old_md, md = old["metadata"], new.setdefault("metadata", {})
        if md.get("resourceVersion") and md["resourceVersion"] != old_md["resourceVersion"]:
            raise SimError("Conflict", f"the object has been modified ({resource} {old_md['name']})")
        if subresource == "status":
            new = {**meta.deep_copy(old), "status": new.get("status")}
        else:
            for field in ("uid", "creationTimestamp", "generation", "name", "namespace"):
                if field in old_md:
                    md[field] = old_md[field]
            if "status" in old:
                new["status"] = meta.deep_copy(old["status"])
            if resource != "pods" and new.get("spec") != old.get("spec"):
                md["generation"] = int(old_md.get("generation") or 0) + 1
        new["metadata"]["resourceVersion"] = self._rv()
        self.cache.put(resource, new)

    # -- scheduler and kubelet -----------------------------------------------------------------------------

    def start_pods(
        self, *, ready: bool = True, node: str = "node-1", pods: Iterable[Obj] | None = None
    ) -> list[Obj]:
        """Bind and run pods that are Pending (or the given ones): Running, Ready since now when ``ready``."""
        started = []
        chosen = list(pods) if pods is not None else self.cache.objects("pods")
        for pod in chosen:
            if pods is None and (pod.get("status") or {}).get("phase") != "Pending":
                continue
            pod = meta.deep_copy(pod)
            pod.setdefault("spec", {}).setdefault("nodeName", node)
            status = pod.setdefault("status", {})
            status["phase"] = "Running"
            stamp = meta.now_rfc3339(self.now)
            status["conditions"] = [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}
            ]
            pod["metadata"]["resourceVersion"] = self._rv()
            self.cache.put("pods", pod)
            started.append(pod)
        return started

    def pods_of(self, owner: Obj) -> list[Obj]:
        uid = (owner.get("metadata") or {}).get("uid", "")
        return [
            p for p in self.cache.by_index("pods", framework.OWNER, uid) if not framework.is_terminating(p)
        ]

    def _rv(self) -> str:
        self._serial += 1
        return str(self._serial)

    def _suffix(self) -> str:
        self._serial += 1
        alphabet = meta.NAME_SUFFIX_ALPHABET
        n, out = self._serial, ""
        for _ in range(meta.RANDOM_LENGTH):
            n, digit = divmod(n, len(alphabet))
            out += alphabet[digit]
        return out


def patched(obj: Obj, action: Patch, kind: str = "") -> Obj:
    """A copy of ``obj`` with the action's merge or strategic merge patch applied, as the apiserver would
    (``kind`` picks the strategic merge keys; every kind has ObjectMeta's, ``ownerReferences`` by uid)."""
    if action.patch_type == "application/strategic-merge-patch+json":
        return strategic_merge_patch.strategic_merge_patch(obj, action.patch, kind)
    merged: Obj = json_patch.merge_patch(meta.deep_copy(obj), action.patch)
    return merged


# -- builders ------------------------------------------------------------------------------------------------


def template(labels: dict[str, str], image: str = "nginx:1.25", **annotations: str) -> Obj:
    md: Obj = {"labels": dict(labels)}
    if annotations:
        md["annotations"] = dict(annotations)
    return {"metadata": md, "spec": {"containers": [{"name": "app", "image": image}]}}


def replica_set(
    name: str, replicas: int, labels: dict[str, str], *, namespace: str = "default", **spec: Any
) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template(labels),
            **spec,
        },
    }


def deployment(
    name: str,
    replicas: int,
    labels: dict[str, str] | None = None,
    *,
    image: str = "nginx:1.25",
    namespace: str = "default",
    strategy: Obj | None = None,
    **spec: Any,
) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template(labels, image),
            "strategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            **spec,
        },
    }


def pod(
    name: str,
    labels: dict[str, str],
    *,
    namespace: str = "default",
    node: str = "",
    phase: str = "Running",
    ready_since: float | None = None,
    owner: Obj | None = None,
    created: float | None = None,
) -> Obj:
    md: Obj = {"name": name, "namespace": namespace, "labels": dict(labels), "uid": f"uid-{name}"}
    if created is not None:
        md["creationTimestamp"] = meta.now_rfc3339(created)
    if owner is not None:
        md["ownerReferences"] = [framework.owner_reference(owner)]
    status: Obj = {"phase": phase}
    if ready_since is not None:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": meta.now_rfc3339(ready_since)}
        ]
    return {"metadata": md, "spec": {"nodeName": node, "containers": [{"name": "app"}]}, "status": status}
