"""The StatefulSet controller: pods with stable names, stable storage and ordered rollout.

As upstream's ``pkg/controller/statefulset`` (``defaultStatefulSetControl.UpdateStatefulSet``):

- the set's pods are ``<set>-<ordinal>`` for ordinals ``[start, start + replicas)`` (``spec.ordinals.start``,
  default 0), created by name (never ``generateName``) with the labels ``statefulset.kubernetes.io/pod-name``,
  ``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` (the revision's name), ``spec.hostname``
  = the pod's name and ``spec.subdomain`` = ``spec.serviceName``;
- **one pod per ordinal, always**: nothing is created while any pod of that name exists, ours or not,
  Terminating or on an unreachable node. A Failed or Succeeded pod is deleted and created again once it
  is gone;
- each ``volumeClaimTemplates`` entry gives every ordinal a claim ``<claim>-<set>-<ordinal>`` (labels: the
  template's plus the selector's ``matchLabels``), created before the pod (and again for a Pending pod that
  lost it) and mounted through a volume named after the template. A claim being deleted blocks its pod.
  ``persistentVolumeClaimRetentionPolicy`` (default Retain/Retain) is upstream's: ``whenDeleted: Delete``
  makes the set a controller owner of the claims, ``whenScaled: Delete`` makes the pod of a scaled-down
  ordinal the owner before that pod is deleted; the garbage collector then deletes the claims. A claim still
  owned by an earlier pod of the ordinal blocks creating the new one;
- ``podManagementPolicy: OrderedReady`` (default) creates ordinal *i* only when every lower ordinal is
  Running, Ready and available (``minReadySeconds``), and scales down from the highest ordinal one at a time,
  only when every other pod is healthy (the first unhealthy pod itself may go). ``Parallel`` creates and
  deletes all at once and does not wait;
- ``updateStrategy`` ``RollingUpdate`` deletes the highest-ordinal pod not at the update revision, one at a
  time, waiting for each replacement to be available; ordinals below ``partition`` keep the current
  revision. With ``maxUnavailable`` set, up to that many (less those already unavailable) go at once.
  ``OnDelete`` replaces nothing: a deleted pod comes back at the update revision;
- status: ``replicas``, ``readyReplicas``, ``availableReplicas``, ``currentReplicas``, ``updatedReplicas``,
  ``currentRevision``, ``updateRevision``, ``observedGeneration``, ``collisionCount``, written (as a status
  merge patch) only when it changes; a finished rolling update makes the update revision current;
- events as upstream's ``StatefulPodControl``, recorded by the runner once a write's outcome is known (the
  actions' ``on_success``/``on_failure``): ``SuccessfulCreate`` "create Pod web-0 in StatefulSet web
  successful" or ``FailedCreate`` "create Pod web-0 in StatefulSet web failed error: <error>", the same for
  ``delete``, ``SuccessfulCreate`` "create Claim data-web-0 Pod web-0 in StatefulSet web success" or
  ``FailedCreate`` "create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: <error>" (none
  for a name found taken, as upstream), and ``SuccessfulUpdate`` after a relabelled pod's patch.

Pod creates and deletes are expected (``expect=True``), and so is every create of an object that carries the
set's controller reference (revisions; claims under ``whenDeleted: Delete``), since the manager settles a
creation for each of those as it appears. While expectations are outstanding only status and revisions are
written. Revisions and their trimming are ``history``'s, claiming ``ownership``'s.

One module, though past 600 lines: ``_Sync`` (ordinals, the rollout, the claims, the status) reads one
per-sync view of the set's pods and claims; the claim retention helpers at the bottom are the part to move
out first.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import framework, history, ownership
from kube import errors, labels, meta

Obj = framework.Obj

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN = "Retain"
DELETE = "Delete"
_ORDINAL = re.compile(r"(.*)-([0-9]+)$")
_AFTER = 0.001  # seconds past a minReadySeconds boundary to look again
_SET_API, _POD_API = ("apps/v1", "StatefulSet"), ("v1", "Pod")


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``getParentNameAndOrdinal``: ``("web", 2)`` for ``web-2``; ``("", -1)`` for other names."""
    m = _ORDINAL.match(name)
    if m is None or int(m.group(2)) > 2**31 - 1:
        return "", -1
    return m.group(1), int(m.group(2))


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


class StatefulSetController:
    name = "statefulset-controller"
    resource = "statefulsets"
    kind = "StatefulSet"
    watches = ("statefulsets", "pods", "persistentvolumeclaims", "controllerrevisions")
    concurrent_syncs = 5  # --concurrent-statefulset-syncs

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: framework.Cache) -> Iterable[str]:
        if resource == "statefulsets":
            return [framework.key_of(obj)]
        keys = {k for o in (obj, old) if o is not None for k in self._owner_keys(resource, o, cache)}
        return sorted(keys)

    def _owner_keys(self, resource: str, obj: Obj, cache: framework.Cache) -> list[str]:
        key = framework.controller_key(obj, self.kind)
        if key is not None:
            return [key]
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        name = (obj.get("metadata") or {}).get("name") or ""
        if resource == "persistentvolumeclaims":  # a claim names its set: <template>-<set>-<ordinal>
            return [
                framework.key_of(s)
                for s in cache.objects("statefulsets", namespace)
                for t in (s.get("spec") or {}).get("volumeClaimTemplates") or ()
                if parent_and_ordinal(name)[0] == f"{(t.get('metadata') or {}).get('name')}-{_name(s)}"
            ]
        if resource == "pods" and meta.controller_of(obj) is None:  # an orphan: who would adopt it
            return [
                framework.key_of(s)
                for s in cache.objects("statefulsets", namespace)
                if _selects(s, obj) and parent_and_ordinal(name)[0] == _name(s)
            ]
        return []

    def reconcile(self, key: str, cache: framework.Cache, ctx: framework.Context) -> framework.Result:
        namespace, name = framework.split_key(key)
        sts = cache.get(self.resource, namespace, name)
        if sts is None:
            return framework.Result()
        try:
            selector = framework.selector_of(sts)
        except errors.KubeError:
            return framework.Result()
        result = framework.Result()
        ref = framework.owner_reference(sts)
        revisions = ownership.claim(
            sts,
            ref,
            selector,
            history.REVISIONS,
            ownership.candidates(cache, history.REVISIONS, sts, selector),
        )
        pods = ownership.claim(
            sts,
            ref,
            selector,
            "pods",
            ownership.candidates(cache, "pods", sts, selector),
            member=lambda p: parent_and_ordinal(_name(p))[0] == name,
        )
        result.actions += revisions.actions + pods.actions
        ordered = history.sorted_revisions(revisions.objects)
        plan = history.plan_stateful(sts, ordered, cache)
        result.actions += plan.actions
        run = _Sync(sts=sts, cache=cache, ctx=ctx, plan=plan, pods=pods.objects)
        run.sync()
        result.actions += run.actions
        live = {_name(plan.current), _name(plan.update)}
        live |= {meta.labels_of(p).get(history.CONTROLLER_REVISION_HASH_LABEL, "") for p in pods.objects}
        for stale in history.stale_revisions(ordered, live, history.history_limit(sts)):
            result.actions.append(
                framework.Delete(
                    resource=history.REVISIONS, namespace=namespace, name=_name(stale), uid=_uid(stale)
                )
            )
        status_patch = run.status_patch()
        if status_patch is not None:
            result.actions.append(
                framework.Patch(
                    resource=self.resource,
                    namespace=namespace,
                    name=name,
                    patch=status_patch,
                    subresource="status",
                )
            )
        result.requeue_after = run.requeue_after()
        return result


@dataclasses.dataclass(slots=True, kw_only=True)
class _Sync:
    """One pass of ``updateStatefulSet`` over a set's pods; ``actions`` collects what it decided."""

    sts: Obj
    cache: framework.Cache
    ctx: framework.Context
    plan: history.RevisionPlan
    pods: list[Obj]
    actions: list[framework.Action] = dataclasses.field(default_factory=list)
    deleted_current: int = 0  # pods deleted for update this pass (status.currentReplicas drops by as many)

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.sts.get("spec") or {}

    @property
    def replicas(self) -> int:
        value = self.spec.get("replicas")
        return 1 if value is None else int(value)

    @property
    def start(self) -> int:
        return int((self.spec.get("ordinals") or {}).get("start") or 0)

    @property
    def min_ready(self) -> int:
        return int(self.spec.get("minReadySeconds") or 0)

    @property
    def monotonic(self) -> bool:
        return self.spec.get("podManagementPolicy") != "Parallel"

    @property
    def strategy(self) -> Mapping[str, Any]:
        return self.spec.get("updateStrategy") or {}

    def _ordinal(self, pod: Obj) -> int:
        return parent_and_ordinal(_name(pod))[1]

    def _in_range(self, ordinal: int) -> bool:
        return self.start <= ordinal < self.start + self.replicas

    def _unavailable(self, pod: Obj | None) -> bool:
        return (
            pod is None
            or not _healthy(pod)
            or not framework.is_pod_available(pod, self.min_ready, self.ctx.now)
        )

    def sync(self) -> None:
        if framework.is_terminating(self.sts) or not self.ctx.pending.satisfied:
            return
        slots: dict[int, Obj | None] = dict.fromkeys(range(self.start, self.start + self.replicas))
        condemned = []
        for pod in self.pods:
            ordinal = self._ordinal(pod)
            if ordinal in slots:
                slots[ordinal] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        condemned.sort(key=self._ordinal, reverse=True)
        # An empty ordinal counts as unavailable (upstream's placeholder pod), so it can be the first.
        unavailable = [p for p in [*slots.values(), *reversed(condemned)] if self._unavailable(p)]
        first_unavailable = unavailable[0] if unavailable else None
        for ordinal, replica in slots.items():
            if self._process_replica(ordinal, replica) and self.monotonic:
                return
        for pod in condemned:
            self._fix_claims(pod)
        for pod in condemned:
            if self._process_condemned(pod, first_unavailable) and self.monotonic:
                return
        if self.strategy.get("type", "RollingUpdate") == "RollingUpdate":
            self._rolling_update(slots)

    def _process_replica(self, ordinal: int, pod: Obj | None) -> bool:
        """``processReplica``; True where an ordered set must stop this pass."""
        if pod is None:
            self._create(ordinal)
            return True
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Failed", "Succeeded"):
            if not framework.is_terminating(pod):
                self._delete(pod)
            return True
        if phase == "Pending":
            self._create_claims(ordinal)
        if self.monotonic and (
            framework.is_terminating(pod)
            or not _running_and_ready(pod)
            or not framework.is_pod_available(pod, self.min_ready, self.ctx.now)
        ):
            return True
        self._fix_identity(pod, ordinal)
        self._fix_claims(pod)
        return False

    def _process_condemned(self, pod: Obj, first_unavailable: Obj | None) -> bool:
        if framework.is_terminating(pod):
            return True
        if self.monotonic and pod is not first_unavailable and self._unavailable(pod):
            return True
        self._delete(pod)
        return True

    def _rolling_update(self, slots: Mapping[int, Obj | None]) -> None:
        rolling = self.strategy.get("rollingUpdate") or {}
        update_min = self.start + int(rolling.get("partition") or 0)
        update_name = _name(self.plan.update)
        targets = [o for o in sorted(slots, reverse=True) if o >= update_min]
        if rolling.get("maxUnavailable") is None:
            for ordinal in targets:
                pod = slots[ordinal]
                if pod is not None and _revision(pod) != update_name and not framework.is_terminating(pod):
                    self._delete(pod)
                    self.deleted_current += 1
                    return
                if self._unavailable(pod):
                    return
            return
        max_unavailable = max(
            1, history.scaled_value(rolling["maxUnavailable"], self.replicas, round_up=False, default=1)
        )
        unavailable = sum(1 for p in slots.values() if self._unavailable(p))
        budget = max_unavailable - unavailable
        for ordinal in targets:
            pod = slots[ordinal]
            if budget <= 0:
                return
            if pod is not None and _revision(pod) != update_name and not framework.is_terminating(pod):
                self._delete(pod)
                self.deleted_current += 1
                budget -= 1

    # -- writes -------------------------------------------------------------------------------------------

    def _create(self, ordinal: int) -> None:
        """Create the claims, then the pod, of an empty ordinal; nothing when its name is taken."""
        name = f"{_name(self.sts)}-{ordinal}"
        if self.cache.get("pods", _namespace(self.sts), name) is not None:
            return  # a pod of that name exists (not ours, or not in our list): never a second one
        if self._claims_block(ordinal, name):
            return
        self._create_claims(ordinal)
        success, failure = _pod_events("create", self.sts)
        self.actions.append(
            framework.Create(
                resource="pods",
                namespace=_namespace(self.sts),
                body=self._new_pod(ordinal),
                expect=True,
                owner=self.sts,
                on_success=success,
                on_failure=failure,
            )
        )

    def _delete(self, pod: Obj) -> None:
        success, failure = _pod_events("delete", self.sts)
        self.actions.append(
            framework.Delete(
                resource="pods",
                namespace=_namespace(pod),
                name=_name(pod),
                uid=_uid(pod),
                expect=True,
                owner=self.sts,
                on_success=success,
                on_failure=failure,
            )
        )

    def _event(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.actions.append(framework.Event(obj=self.sts, type=type_, reason=reason, message=message))

    def _claim_templates(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("volumeClaimTemplates") or ())

    def _claims_block(self, ordinal: int, pod_name: str) -> bool:
        """A claim being deleted, or (``whenScaled: Delete``) still owned by an earlier pod of this name."""
        scaled = _policy(self.sts)[1]
        for template in self._claim_templates():
            claim = self.cache.get(
                "persistentvolumeclaims", _namespace(self.sts), self._claim_name(template, ordinal)
            )
            if claim is None:
                continue
            if framework.is_terminating(claim):
                return True
            stale = [
                r
                for r in meta.owner_references(claim)
                if (r.api_version, r.kind, r.name) == (*_POD_API, pod_name)
            ]
            if scaled != RETAIN and stale:
                return True
        return False

    def _claim_name(self, template: Mapping[str, Any], ordinal: int) -> str:
        return claim_name(str((template.get("metadata") or {}).get("name") or ""), _name(self.sts), ordinal)

    def _create_claims(self, ordinal: int) -> None:
        pod_name = f"{_name(self.sts)}-{ordinal}"
        match_labels = (self.spec.get("selector") or {}).get("matchLabels") or {}
        for template in self._claim_templates():
            name = self._claim_name(template, ordinal)
            if self.cache.get("persistentvolumeclaims", _namespace(self.sts), name) is not None:
                continue
            claim = meta.deep_copy(dict(template))
            claim.pop("status", None)
            md = claim.setdefault("metadata", {})
            md.update(name=name, namespace=_namespace(self.sts))
            md["labels"] = {**(md.get("labels") or {}), **match_labels}
            owned = _policy(self.sts)[0] == DELETE
            if owned:
                md["ownerReferences"] = [framework.owner_reference(self.sts)]
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim}
            in_set = f"Pod {pod_name} in StatefulSet {_name(self.sts)}"
            self.actions.append(
                framework.Create(
                    resource="persistentvolumeclaims",
                    namespace=_namespace(self.sts),
                    body=body,
                    expect=owned,
                    owner=self.sts,
                    on_success=framework.EventTemplate(
                        type="Normal",
                        reason="SuccessfulCreate",
                        message=f"create Claim {{name}} {in_set} success",
                    ),
                    on_failure=framework.EventTemplate(
                        type="Warning",
                        reason="FailedCreate",
                        message=f"create Claim {{name}} for {in_set} failed error: {{error}}",
                    ),
                )
            )

    def _fix_identity(self, pod: Obj, ordinal: int) -> None:
        want = {POD_NAME_LABEL: _name(pod), POD_INDEX_LABEL: str(ordinal)}
        have = meta.labels_of(pod)
        if all(have.get(k) == v for k, v in want.items()):
            return
        patch = {"metadata": {"labels": want}}
        self.actions.append(
            framework.Patch(resource="pods", namespace=_namespace(pod), name=_name(pod), patch=patch)
        )
        self._event(
            "SuccessfulUpdate", f"update Pod {_name(pod)} in StatefulSet {_name(self.sts)} successful"
        )

    def _fix_claims(self, pod: Obj) -> None:
        """``UpdatePodClaimForRetentionPolicy`` for the pod's claims that exist."""
        ordinal = self._ordinal(pod)
        for template in self._claim_templates():
            claim = self.cache.get(
                "persistentvolumeclaims", _namespace(self.sts), self._claim_name(template, ordinal)
            )
            if claim is None:
                continue
            refs = _claim_owner_refs(claim, self.sts, pod, scaled_down=not self._in_range(ordinal))
            if refs is not None:
                patch = {"metadata": {"ownerReferences": refs}}
                self.actions.append(
                    framework.Patch(
                        resource="persistentvolumeclaims",
                        namespace=_namespace(claim),
                        name=_name(claim),
                        patch=patch,
                    )
                )

    def _new_pod(self, ordinal: int) -> Obj:
        """``newVersionedStatefulSetPod``: below the partition the current revision, else the update one."""
        rolling = self.strategy.get("rollingUpdate")
        current_replicas = int((self.sts.get("status") or {}).get("currentReplicas") or 0)
        if (
            self.strategy.get("type", "RollingUpdate") == "RollingUpdate"
            and rolling is None
            and ordinal < self.start + current_replicas
        ) or (rolling is not None and ordinal < self.start + int(rolling.get("partition") or 0)):
            revision = self.plan.current
        else:
            revision = self.plan.update
        template = history.template_of(revision)
        name = f"{_name(self.sts)}-{ordinal}"
        tmd = template.get("metadata") or {}
        md: Obj = {
            "name": name,
            "namespace": _namespace(self.sts),
            "labels": {
                **(tmd.get("labels") or {}),
                POD_NAME_LABEL: name,
                POD_INDEX_LABEL: str(ordinal),
                history.CONTROLLER_REVISION_HASH_LABEL: _name(revision),
            },
            "ownerReferences": [framework.owner_reference(self.sts)],
        }
        for field in ("annotations", "finalizers"):
            if tmd.get(field):
                md[field] = tmd[field]
        spec = template.get("spec") or {}
        claims = {
            str((t.get("metadata") or {}).get("name") or ""): self._claim_name(t, ordinal)
            for t in self._claim_templates()
        }
        volumes = [{"name": k, "persistentVolumeClaim": {"claimName": v}} for k, v in claims.items()]
        volumes += [v for v in spec.get("volumes") or () if v.get("name") not in claims]
        spec["hostname"] = name
        if self.spec.get("serviceName"):
            spec["subdomain"] = self.spec["serviceName"]
        if volumes:
            spec["volumes"] = volumes
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}

    # -- status -------------------------------------------------------------------------------------------

    def status(self) -> Obj:
        update, current = _name(self.plan.update), _name(self.plan.current)
        counts = dict.fromkeys(
            ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"), 0
        )
        for pod in self.pods:
            if self._ordinal(pod) < 0 or not (pod.get("status") or {}).get("phase"):
                continue
            counts["replicas"] += 1
            if _running_and_ready(pod):
                counts["readyReplicas"] += 1
                if framework.is_pod_available(pod, self.min_ready, self.ctx.now):
                    counts["availableReplicas"] += 1
            if not framework.is_terminating(pod):
                counts["currentReplicas"] += _revision(pod) == current
                counts["updatedReplicas"] += _revision(pod) == update
        counts["currentReplicas"] -= self.deleted_current
        status: Obj = {
            "observedGeneration": int((self.sts.get("metadata") or {}).get("generation") or 0),
            **counts,
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": self.plan.collision_count,
        }
        target = self.replicas
        if self.strategy.get("type", "RollingUpdate") == "RollingUpdate" and (
            status["updatedReplicas"] == status["readyReplicas"] == status["replicas"] == target
        ):  # completeRollingUpdate
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = update
        return status

    def status_patch(self) -> Obj | None:
        status = self.status()
        old = self.sts.get("status") or {}
        if all(old.get(k, 0 if isinstance(v, int) else "") == v for k, v in status.items()):
            return None
        return {"status": status}

    def requeue_after(self) -> float | None:
        """When a Ready pod turns available (``minReadySeconds``): look again then."""
        if self.min_ready <= 0:
            return None
        waits = [
            framework.available_in(p, self.min_ready, self.ctx.now)
            for p in self.pods
            if _running_and_ready(p) and not framework.is_pod_available(p, self.min_ready, self.ctx.now)
        ]
        if not waits:
            return None
        known = [w for w in waits if w is not None]
        # Available means ready for *more* than minReadySeconds: look just after the boundary.
        return (min(known) if known else float(self.min_ready)) + _AFTER


def _pod_events(verb: str, sts: Mapping[str, Any]) -> tuple[framework.EventTemplate, framework.EventTemplate]:
    """``recordPodEvent``'s pair for a pod write: ``Successful<Verb>`` "<verb> Pod <pod> in StatefulSet <set>
    successful", or ``Failed<Verb>`` "<verb> Pod <pod> in StatefulSet <set> failed error: <error>"."""
    in_set = f"in StatefulSet {_name(sts)}"
    return (
        framework.EventTemplate(
            type="Normal",
            reason=f"Successful{verb.title()}",
            message=f"{verb} Pod {{name}} {in_set} successful",
        ),
        framework.EventTemplate(
            type="Warning",
            reason=f"Failed{verb.title()}",
            message=f"{verb} Pod {{name}} {in_set} failed error: {{error}}",
        ),
    )


def _claim_owner_refs(claim: Obj, sts: Obj, pod: Obj, *, scaled_down: bool) -> list[Obj] | None:
    """``isClaimOwnerUpToDate`` and ``updateClaimOwnerRefForSetAndPod``: the claim's new ownerReferences,
    or None when they already agree with the retention policy (or belong to someone else's history)."""
    refs = meta.owner_references(claim)
    owners = ((_SET_API, sts), (_POD_API, pod))

    def matches(ref: meta.OwnerReference, api: tuple[str, str], obj: Obj) -> bool:
        return (ref.api_version, ref.kind, ref.name) == (*api, _name(obj))

    for api, obj in owners:  # a stale ref: an earlier object of that name; leave the claim alone
        first = next((r for r in refs if matches(r, api, obj)), None)
        if first is not None and first.uid != _uid(obj):
            return None
    when_deleted, when_scaled = _policy(sts)
    ours = {_uid(sts), _uid(pod)}
    unexpected = (when_deleted, when_scaled) != (RETAIN, RETAIN) and any(
        r.controller and r.uid not in ours for r in refs
    )
    want_set = not unexpected and (
        (when_scaled == RETAIN and when_deleted == DELETE)
        or (when_scaled == DELETE == when_deleted and not scaled_down)
    )
    want_pod = not unexpected and when_scaled == DELETE and scaled_down
    has_set = any(r.uid == _uid(sts) for r in refs)
    has_pod = any(r.uid == _uid(pod) for r in refs)
    non_controller = any(r.uid in ours and not r.controller for r in refs)
    if unexpected and not (has_set or has_pod):
        return None
    if not non_controller and has_set == want_set and has_pod == want_pod:
        return None
    kept = [r.to_dict() for r in refs if not any(matches(r, api, obj) for api, obj in owners)]
    if want_set:
        kept.append(framework.owner_reference(sts))
    if want_pod:
        kept.append(framework.owner_reference(pod))
    return kept


def _policy(sts: Mapping[str, Any]) -> tuple[str, str]:
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _running_and_ready(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and framework.is_pod_ready(pod)


def _healthy(pod: Mapping[str, Any]) -> bool:
    return _running_and_ready(pod) and not framework.is_terminating(pod)


def _revision(pod: Mapping[str, Any]) -> str:
    return meta.labels_of(pod).get(history.CONTROLLER_REVISION_HASH_LABEL, "")


def _selects(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    try:
        selector: labels.Selector = framework.selector_of(sts)
    except errors.KubeError:
        return False
    return selector.matches(meta.labels_of(pod))


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
