"""The DaemonSet controller: one pod on every eligible node.

As upstream's ``pkg/controller/daemon`` (``syncDaemonSet``, ``manage``, ``rollingUpdate``):

- a node is eligible (``NodeShouldRunDaemonPod``) when it passes the template's ``nodeName``, its
  ``nodeSelector`` and required node affinity, and every ``NoSchedule``/``NoExecute`` taint is tolerated by
  the template's tolerations plus the ones the controller adds to every daemon pod
  (``AddOrUpdateDaemonPodTolerations``): ``not-ready`` and ``unreachable`` NoExecute, ``disk-pressure``,
  ``memory-pressure``, ``pid-pressure``, ``unschedulable`` NoSchedule, and ``network-unavailable`` NoSchedule
  for ``hostNetwork`` pods. So an unschedulable (cordoned) node still gets its daemon pod. A pod already on a
  node that only gained an untolerated NoSchedule taint keeps running; an untolerated NoExecute one evicts it;
- a daemon pod is created without ``nodeName``: its required node affinity is replaced by ``matchFields
  metadata.name In [<node>]`` and the default scheduler binds it, as upstream since v1.12. A pod's node is its
  ``nodeName``, or that affinity term before it is bound;
- per node: no pod → create; more than one → keep the oldest (scheduled first), delete the rest; a Failed
  pod → delete it (event ``FailedDaemonPod``) with upstream's per-node back-off (1 s doubling to 15 min,
  ``requeue_after`` meanwhile); a Succeeded one → delete it (``SucceededDaemonPod``); a node no longer
  eligible → delete its pods; pods bound for nodes that are gone and never scheduled → delete. A node whose
  only pod is Terminating waits for it to go (unless surging). At most 250 creates and 250 deletes a pass
  (``burstReplicas``);
- ``updateStrategy`` ``RollingUpdate`` (default) with ``maxUnavailable`` (default 1) and ``maxSurge``
  (default 0), both int or percent of the nodes that should run a pod (rounded up): without surge, old
  pods are deleted while no more than ``maxUnavailable`` nodes lack an available pod (unavailable old pods
  go at once); with surge, new pods start beside old ones (at most ``maxSurge`` at a time, at once where the
  old one is unavailable) and an old pod goes when its replacement is available. ``OnDelete`` replaces only
  pods someone deleted. The rollout waits until the pass's own creates and deletes are done;
- pods carry ``controller-revision-hash`` (the revision's hash; a revision is ``<ds>-<hash>``, see
  ``history``), and ``pod-template-generation`` when the set has upstream's
  ``deprecated.daemonset.template.generation`` annotation; either marks a pod as updated;
- status: ``desiredNumberScheduled``, ``currentNumberScheduled``, ``numberMisscheduled``, ``numberReady``,
  ``numberAvailable``, ``numberUnavailable``, ``updatedNumberScheduled``, ``observedGeneration`` (raised only
  when expectations were satisfied), ``collisionCount`` on a hash collision;
- events as upstream's ``RealPodControl`` (``framework.create_pod``/``delete_pod``, recorded by the runner
  once it knows the outcome): ``SuccessfulCreate`` "Created pod: <the generated name>", ``FailedCreate``
  "Error creating: <error>", ``SuccessfulDelete`` "Deleted pod: <name>", ``FailedDelete``; and
  ``SelectingAll`` for an empty selector (nothing else is done then).

Node events enqueue every DaemonSet, except updates that change nothing eligibility reads (labels, taints,
``unschedulable``, the set of True conditions), as upstream's ``shouldIgnoreNodeUpdate``. Upstream
``concurrent_syncs``: 2 DaemonSet workers (``--concurrent-daemonset-syncs``), 5 StatefulSet ones.

One module, though past 600 lines: placement, ``manage``, the two rollouts and the status all read one
per-sync view (``_Sync``: which nodes should run a pod, which pods are on which node); ``Eligibility`` and
its helpers could move out on their own if another controller needs them.

State: the failed-pod back-off lives in the controller (upstream's ``failedPodsBackoff``), keyed by
``<ds uid>/<observedGeneration>/<node>`` and timed with ``ctx.now``; everything else is read from the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.controllers import framework, history, ownership
from actors.scheduler import plugins, table
from kube import errors, meta

Obj = framework.Obj

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 15 * 60.0
_NO_SCHEDULE, _NO_EXECUTE = "NoSchedule", "NoExecute"
_DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", _NO_EXECUTE),
    ("node.kubernetes.io/unreachable", _NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", _NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", _NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", _NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", _NO_SCHEDULE),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", _NO_SCHEDULE)


def daemon_tolerations(spec: Mapping[str, Any]) -> list[Obj]:
    """``AddOrUpdateDaemonPodTolerations``: the pod spec's tolerations with the daemon defaults added (one
    with the same key, operator, value and effect is replaced by the default)."""
    tolerations = [dict(t) for t in spec.get("tolerations") or ()]
    wanted = list(_DEFAULT_TOLERATIONS) + ([_NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    for key, effect in wanted:
        default: Obj = {"key": key, "operator": "Exists", "effect": effect}
        same = [
            i
            for i, t in enumerate(tolerations)
            if all(t.get(f) == default[f] for f in default) and not t.get("value")
        ]
        if not same:
            tolerations.append(default)
        elif tolerations[same[0]] != default:
            tolerations[same[0]] = default
    return tolerations


@dataclasses.dataclass(frozen=True, slots=True)
class Eligibility:
    """How a DaemonSet's pod fits nodes, parsed once per sync (``NodeShouldRunDaemonPod``)."""

    node_name: str
    node_selector: Mapping[str, str]
    terms: tuple[plugins.SelectorTerm, ...] | None  # None: no required affinity
    tolerations: tuple[plugins.Toleration, ...]

    @classmethod
    def of(cls, ds: Mapping[str, Any]) -> Eligibility:
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        terms = None
        if required is not None:
            compiled = (plugins.compile_term(t) for t in required.get("nodeSelectorTerms") or ())
            terms = tuple(t for t in compiled if t is not None)
        return cls(
            node_name=str(spec.get("nodeName") or ""),
            node_selector=dict(spec.get("nodeSelector") or {}),
            terms=terms,
            tolerations=tuple(plugins.Toleration.from_dict(t) for t in daemon_tolerations(spec)),
        )

    def should_run(self, node: Mapping[str, Any]) -> tuple[bool, bool]:
        """(should run a pod there, should keep one already running there)."""
        md = node.get("metadata") or {}
        name, node_labels = str(md.get("name") or ""), md.get("labels") or {}
        if self.node_name and self.node_name != name:
            return False, False
        if any(node_labels.get(k) != v for k, v in self.node_selector.items()):
            return False, False
        if self.terms is not None and not any(_term_matches(t, name, node_labels) for t in self.terms):
            return False, False
        untolerated = {
            str(t.get("effect") or "")
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("effect") in (_NO_SCHEDULE, _NO_EXECUTE)
            and not plugins.tolerated(
                self.tolerations, str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect"))
            )
        }
        return not untolerated, _NO_EXECUTE not in untolerated


def _term_matches(term: plugins.SelectorTerm, node_name: str, node_labels: Mapping[str, str]) -> bool:
    """One ``NodeSelectorTerm`` against one node (the scheduler's table masks, for a single row)."""
    if not term.valid:
        return False
    for req in term.expressions:
        value = node_labels.get(req.key)
        if req.operator == "In":
            ok = value is not None and value in req.values
        elif req.operator == "NotIn":
            ok = value is None or value not in req.values
        elif req.operator == "Exists":
            ok = value is not None
        elif req.operator == "DoesNotExist":
            ok = value is None
        else:
            number = table.parse_int64(value) if value is not None else None
            ok = number is not None and (number > req.bound if req.operator == "Gt" else number < req.bound)
        if not ok:
            return False
    for field in term.fields:
        actual = node_name if field.key == plugins.OBJECT_NAME_FIELD else ""
        if (actual == field.value) != field.equal:
            return False
    return True


def target_node(pod: Mapping[str, Any]) -> str | None:
    """``util.GetTargetNodeName``: ``spec.nodeName``, or the node a daemon pod's affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for expr in term.get("matchFields") or ():
            if expr.get("key") == plugins.OBJECT_NAME_FIELD and expr.get("operator") == "In":
                values: list[str] = list(expr.get("values") or ())
                return str(values[0]) if len(values) == 1 else None
    return None


def pin_to_node(affinity: Mapping[str, Any] | None, node: str) -> Obj:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: the required node affinity becomes ``metadata.name In
    [node]`` (the set's own terms were checked against the node already)."""
    out = meta.deep_copy(dict(affinity or {}))
    node_affinity = out.setdefault("nodeAffinity", {})
    term = {"matchFields": [{"key": plugins.OBJECT_NAME_FIELD, "operator": "In", "values": [node]}]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return out


class DaemonSetController:
    name = "daemonset-controller"
    resource = "daemonsets"
    kind = "DaemonSet"
    watches = ("daemonsets", "pods", "nodes", "controllerrevisions")
    concurrent_syncs = 2  # --concurrent-daemonset-syncs

    def __init__(self) -> None:
        self._backoff: dict[str, tuple[float, float]] = {}  # backoff key -> (delay, last update)

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: framework.Cache) -> Iterable[str]:
        if resource == self.resource:
            return [framework.key_of(obj)]
        if resource == "nodes":
            gone = cache.get("nodes", None, _name(obj)) is None  # a deletion (the cache has dropped it)
            if old is not None and not gone and _node_fingerprint(old) == _node_fingerprint(obj):
                return []
            return [framework.key_of(ds) for ds in cache.objects(self.resource)]
        keys: set[str] = set()
        for o in (obj, old):
            if o is None:
                continue
            key = framework.controller_key(o, self.kind)
            if key is not None:
                keys.add(key)
            elif resource == "pods":  # an orphan: every set that would adopt it
                namespace = (o.get("metadata") or {}).get("namespace") or ""
                keys |= {
                    framework.key_of(ds) for ds in cache.objects(self.resource, namespace) if _selects(ds, o)
                }
        return sorted(keys)

    def reconcile(self, key: str, cache: framework.Cache, ctx: framework.Context) -> framework.Result:
        namespace, name = framework.split_key(key)
        ds = cache.get(self.resource, namespace, name)
        if ds is None or framework.is_terminating(ds):
            return framework.Result()
        spec = ds.get("spec") or {}
        if spec.get("selector") == {}:
            message = "This daemon set is selecting all pods. A non-empty selector is required."
            return framework.Result(
                actions=[framework.Event(obj=ds, type="Warning", reason="SelectingAll", message=message)]
            )
        try:
            selector = framework.selector_of(ds)
        except errors.KubeError:
            return framework.Result()
        result = framework.Result()
        ref = framework.owner_reference(ds)
        revisions = ownership.claim(
            ds, ref, selector, history.REVISIONS, ownership.candidates(cache, history.REVISIONS, ds, selector)
        )
        pods = ownership.claim(ds, ref, selector, "pods", ownership.candidates(cache, "pods", ds, selector))
        plan = history.plan_daemon(ds, history.sorted_revisions(revisions.objects), pods.objects, cache)
        result.actions += revisions.actions + pods.actions + plan.actions
        run = _Sync(
            ds=ds,
            ctx=ctx,
            nodes=cache.objects("nodes"),
            pods=pods.objects,
            hash=meta.labels_of(plan.update).get(history.CONTROLLER_REVISION_HASH_LABEL, ""),
            backoff=self._backoff,
        )
        satisfied = ctx.pending.satisfied
        if satisfied:
            run.manage()
            rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
            # as upstream, the rollout waits for this pass's creates and deletes (its expectations)
            if rolling and not any(isinstance(a, framework.Create | framework.Delete) for a in run.actions):
                run.rolling_update()
            live = {meta.labels_of(p).get(history.CONTROLLER_REVISION_HASH_LABEL) for p in pods.objects}
            old = [
                r
                for r in plan.old
                if meta.labels_of(r).get(history.CONTROLLER_REVISION_HASH_LABEL) not in live
            ]
            for stale in old[: max(0, len(plan.old) - history.history_limit(ds))]:
                run.actions.append(
                    framework.Delete(
                        resource=history.REVISIONS, namespace=namespace, name=_name(stale), uid=_uid(stale)
                    )
                )
        result.actions += run.actions
        status = run.status_patch(update_observed_generation=satisfied, collision_count=plan.collision_count)
        if status is not None:
            result.actions.append(
                framework.Patch(
                    resource=self.resource, namespace=namespace, name=name, patch=status, subresource="status"
                )
            )
        result.requeue_after = run.requeue_after()
        self._forget_expired(ctx.now)
        return result

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, (_, last) in self._backoff.items() if now - last > 2 * BACKOFF_MAX]:
            del self._backoff[key]


@dataclasses.dataclass(slots=True, kw_only=True)
class _Sync:
    """One pass of ``manage``, ``rollingUpdate`` and the status over a set's pods and the nodes."""

    ds: Obj
    ctx: framework.Context
    nodes: list[Obj]
    pods: list[Obj]
    hash: str
    backoff: dict[str, tuple[float, float]]
    actions: list[framework.Action] = dataclasses.field(default_factory=list)
    waits: list[float] = dataclasses.field(default_factory=list)  # back-offs running out (seconds)
    placement: dict[str, tuple[bool, bool]] = dataclasses.field(default_factory=dict)
    by_node: dict[str, list[Obj]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        eligibility = Eligibility.of(self.ds)
        self.placement = {_name(n): eligibility.should_run(n) for n in self.nodes}
        for pod in self.pods:
            node = target_node(pod)
            if node is not None:
                self.by_node.setdefault(node, []).append(pod)

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.ds.get("spec") or {}

    @property
    def min_ready(self) -> int:
        return int(self.spec.get("minReadySeconds") or 0)

    @property
    def generation(self) -> str | None:
        return meta.annotations_of(self.ds).get(TEMPLATE_GENERATION_ANNOTATION)

    def _rolling(self) -> Mapping[str, Any] | None:
        strategy = self.spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return None
        return strategy.get("rollingUpdate") or {}

    def surge_count(self, desired: int) -> int:
        rolling = self._rolling()
        if rolling is None:
            return 0
        return history.scaled_value(rolling.get("maxSurge"), desired, round_up=True, default=0)

    def unavailable_count(self, desired: int) -> int:
        rolling = self._rolling()
        if rolling is None:
            return 0
        return history.scaled_value(rolling.get("maxUnavailable"), desired, round_up=True, default=1)

    def updated(self, pod: Mapping[str, Any]) -> bool:
        """``util.IsPodUpdated``: the revision's hash, or the template generation, on the pod."""
        pod_labels = meta.labels_of(pod)
        if self.hash and pod_labels.get(history.CONTROLLER_REVISION_HASH_LABEL) == self.hash:
            return True
        return self.generation is not None and pod_labels.get(TEMPLATE_GENERATION_LABEL) == self.generation

    def available(self, pod: Mapping[str, Any]) -> bool:
        return framework.is_pod_available(pod, self.min_ready, self.ctx.now)

    # -- manage -------------------------------------------------------------------------------------------

    def manage(self) -> None:
        creates: list[str] = []
        deletes: list[Obj] = []
        for node in self.nodes:
            self._pods_should_be_on_node(_name(node), creates, deletes)
        for node_name, pods in self.by_node.items():  # never scheduled, and their node is gone
            if node_name not in self.placement:
                deletes += [p for p in pods if not _node_name(p) and not framework.is_terminating(p)]
        self._sync_nodes(deletes, creates)

    def _pods_should_be_on_node(self, node: str, creates: list[str], deletes: list[Obj]) -> None:
        should_run, should_continue = self.placement[node]
        pods = self.by_node.get(node)
        if should_run and pods is None:
            creates.append(node)
            return
        if not should_continue:
            deletes += [p for p in pods or () if not framework.is_terminating(p)]
            return
        running = []
        for pod in pods or ():
            phase = (pod.get("status") or {}).get("phase")
            if framework.is_terminating(pod):
                continue
            if phase == "Failed":
                if self._in_backoff(node):
                    continue
                found = f"daemon pod {_namespace(pod)}/{_name(pod)} on node {node}"
                self._event("Warning", "FailedDaemonPod", f"Found failed {found}, will try to kill it")
                deletes.append(pod)
            elif phase == "Succeeded":
                found = f"daemon pod {_namespace(pod)}/{_name(pod)} on node {node}"
                self._event("Normal", "SucceededDaemonPod", f"Found succeeded {found}, will try to delete it")
                deletes.append(pod)
            else:
                running.append(pod)
        running.sort(key=_oldest_first)
        if self.surge_count(1) <= 0:  # not surging: one pod a node, the oldest
            deletes += running[1:]
            return
        if len(running) <= 1:
            if not running and should_run:
                creates.append(node)
            return
        # Surging: keep the oldest new pod and the oldest old one; the old one goes once the new one is
        # available, or at once when it is not ready itself.
        newest: Obj | None = None
        oldest: Obj | None = None
        for pod in running:
            if self.updated(pod) and newest is None:
                newest = pod
            elif not self.updated(pod) and oldest is None:
                oldest = pod
            else:
                deletes.append(pod)
        if (
            newest is not None
            and oldest is not None
            and (not framework.is_pod_ready(oldest) or self.available(newest))
        ):
            deletes.append(oldest)

    def _in_backoff(self, node: str) -> bool:
        """upstream's ``failedPodsBackoff``: True while the node's back-off runs (and notes when it ends);
        False after starting the next, doubled, back-off."""
        status = self.ds.get("status") or {}
        key = f"{_uid(self.ds)}/{int(status.get('observedGeneration') or 0)}/{node}"
        now = self.ctx.now
        entry = self.backoff.get(key)
        if entry is not None and now - entry[1] <= 2 * BACKOFF_MAX and now - entry[1] < entry[0]:
            self.waits.append(entry[0])
            return True
        if entry is None or now - entry[1] > 2 * BACKOFF_MAX:
            delay = BACKOFF_INITIAL
        else:
            delay = min(entry[0] * 2, BACKOFF_MAX)
        self.backoff[key] = (delay, now)
        return False

    def _sync_nodes(self, deletes: Sequence[Obj], creates: Sequence[str]) -> None:
        """``syncNodes``: the creates, then the deletes, through ``RealPodControl`` (its events)."""
        self.actions += [
            framework.create_pod(self.ds, self._new_pod(node)) for node in creates[:BURST_REPLICAS]
        ]
        self.actions += [framework.delete_pod(self.ds, pod) for pod in deletes[:BURST_REPLICAS]]

    def _new_pod(self, node: str) -> Obj:
        """``CreatePodTemplate`` plus the node affinity that pins the pod to ``node``."""
        template = meta.deep_copy(self.spec.get("template") or {})
        tmd = template.get("metadata") or {}
        spec = template.get("spec") or {}
        spec["tolerations"] = daemon_tolerations(spec)
        spec["affinity"] = pin_to_node(spec.get("affinity"), node)
        pod_labels = dict(tmd.get("labels") or {})
        if self.generation is not None:
            pod_labels[TEMPLATE_GENERATION_LABEL] = self.generation
        if self.hash:
            pod_labels[history.CONTROLLER_REVISION_HASH_LABEL] = self.hash
        md: Obj = {
            "generateName": f"{_name(self.ds)}-",
            "namespace": _namespace(self.ds),
            "labels": pod_labels,
            "ownerReferences": [framework.owner_reference(self.ds)],
        }
        for field in ("annotations", "finalizers"):
            if tmd.get(field):
                md[field] = tmd[field]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.actions.append(framework.Event(obj=self.ds, type=type_, reason=reason, message=message))

    # -- rolling update -------------------------------------------------------------------------------------

    def rolling_update(self) -> None:
        by_node = {n: list(p) for n, p in self.by_node.items()}
        desired = 0
        for node, (should_run, _) in self.placement.items():
            if should_run:
                desired += 1
                by_node.setdefault(node, [])
        max_surge, max_unavailable = self.surge_count(desired), self.unavailable_count(desired)
        if desired > 0 and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        if max_surge == 0:
            self._replace_in_place(by_node, max_unavailable)
        else:
            self._replace_by_surge(by_node, max_surge, desired)

    def _replace_in_place(self, by_node: Mapping[str, list[Obj]], max_unavailable: int) -> None:
        """Delete old pods while at most ``max_unavailable`` nodes lack an available pod; ``manage`` then
        creates the new ones. Deleted (Terminating) pods do not count, so nodes that are down do not stall."""
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for node in sorted(by_node):
            found = _split(by_node[node], self.updated)
            if found is None:  # excess pods: manage prunes them first
                unavailable += 1
                continue
            new, old = found
            if (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                unavailable += not self.available(new)
            elif old is not None and not self.available(old):
                replace.append(old)
                unavailable += 1
            elif old is not None and unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        self._sync_nodes(replace + candidates[:room], [])

    def _replace_by_surge(self, by_node: Mapping[str, list[Obj]], max_surge: int, desired: int) -> None:
        """Start new pods beside old ones (at most ``max_surge`` at a time); an old pod goes when the new one
        on its node is available. Old pods on nodes no longer eligible go only while enough stay available."""
        deletes: list[Obj] = []
        leaving: list[Obj] = []  # old pods on nodes that should no longer run one
        allowed: list[str] = []
        candidates: list[str] = []
        surge = available = 0
        for node in sorted(by_node):
            found = _split(by_node[node], self.updated)
            if found is None:
                surge += 1
                continue
            new, old = found
            shown = old if old is not None else new
            available += shown is not None and self.available(shown)
            should_run = self.placement.get(node, (False, False))[0]
            if old is None:
                continue
            if new is None and not self.available(old):
                if should_run:
                    allowed.append(node)
                else:
                    deletes.append(old)
            elif new is None:
                if not should_run:
                    leaving.append(old)
                elif surge < max_surge:
                    candidates.append(node)
            elif not self.available(new):
                surge += 1
            else:
                deletes.append(old)
        deletes += leaving[: max(0, min(available - desired, len(leaving)))]
        room = min(max(max_surge - surge, 0), len(candidates))
        self._sync_nodes(deletes, allowed + candidates[:room])

    # -- status ---------------------------------------------------------------------------------------------

    def status(self) -> dict[str, int]:
        counts = dict.fromkeys(
            (
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberMisscheduled",
                "numberReady",
                "numberAvailable",
                "updatedNumberScheduled",
            ),
            0,
        )
        for node, (should_run, _) in self.placement.items():
            pods = self.by_node.get(node) or []
            if not should_run:
                counts["numberMisscheduled"] += bool(pods)
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            pod = min(pods, key=_oldest_first)
            if framework.is_pod_ready(pod):
                counts["numberReady"] += 1
                counts["numberAvailable"] += self.available(pod)
            counts["updatedNumberScheduled"] += self.updated(pod)
        counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
        return counts

    def status_patch(self, *, update_observed_generation: bool, collision_count: int) -> Obj | None:
        old = self.ds.get("status") or {}
        generation = int((self.ds.get("metadata") or {}).get("generation") or 0)
        observed = int(old.get("observedGeneration") or 0)
        counts = self.status()
        same = all(int(old.get(k) or 0) == v for k, v in counts.items())
        same_collisions = int(old.get("collisionCount") or 0) == collision_count
        if same and same_collisions and observed >= generation:
            return None
        status: Obj = {**counts, "observedGeneration": generation if update_observed_generation else observed}
        if not same_collisions:
            status["collisionCount"] = collision_count
        return {"status": status}

    def requeue_after(self) -> float | None:
        """When a back-off ends, or a Ready pod turns available (``minReadySeconds``)."""
        waits = list(self.waits)
        if self.min_ready > 0:
            for pods in self.by_node.values():
                for pod in pods:
                    if framework.is_pod_ready(pod) and not self.available(pod):
                        remaining = framework.available_in(pod, self.min_ready, self.ctx.now)
                        waits.append((self.min_ready if remaining is None else remaining) + _AFTER)
        return min(waits) if waits else None


_AFTER = 0.001  # seconds past a minReadySeconds boundary to look again


def _split(pods: Iterable[Obj], updated: Any) -> tuple[Obj | None, Obj | None] | None:
    """``findUpdatedPodsOnNode``: the node's (new, old) live pods; None when it has two of either."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if framework.is_terminating(pod):
            continue
        if updated(pod):
            if new is not None:
                return None
            new = pod
        else:
            if old is not None:
                return None
            old = pod
    return new, old


def _oldest_first(pod: Mapping[str, Any]) -> tuple[bool, str, str]:
    """``podByCreationTimestampAndPhase``: scheduled pods first, then by creation time, then by name."""
    md = pod.get("metadata") or {}
    return not _node_name(pod), str(md.get("creationTimestamp") or ""), str(md.get("name") or "")


def _node_fingerprint(node: Mapping[str, Any]) -> tuple[Any, ...]:
    """What eligibility reads of a node (heartbeats and other status changes are not in it)."""
    md, spec = node.get("metadata") or {}, node.get("spec") or {}
    true_conditions = sorted(
        str(c.get("type"))
        for c in (node.get("status") or {}).get("conditions") or ()
        if c.get("status") == "True"
    )
    return (
        sorted((md.get("labels") or {}).items()),
        [sorted(t.items()) for t in spec.get("taints") or ()],
        bool(spec.get("unschedulable")),
        true_conditions,
    )


def _selects(ds: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    try:
        return framework.selector_of(ds).matches(meta.labels_of(pod))
    except errors.KubeError:
        return False


def _node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
