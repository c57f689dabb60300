"""Pure helpers of the Deployment controller (upstream's ``pkg/controller/deployment/util``).

Everything here reads plain Kubernetes-shaped dicts and returns values; the few functions that change an
object say so (``set_*``) and are only ever given the controller's private copies.

- Fenceposts: ``maxSurge`` rounds up, ``maxUnavailable`` rounds down (percentages of ``spec.replicas``);
  both zero makes ``maxUnavailable`` 1 (``ResolveFenceposts``).
- The pod-template hash is ``history.compute_hash`` (upstream's ``controller.ComputeHash``): FNV-1a of
  the template's canonical JSON and, when set, of ``status.collisionCount``. Upstream hashes Go's
  ``spew`` rendering of the struct, so the values differ from a real cluster's, but they are as stable: the
  same template always gives the same ReplicaSet name. ``maxSurge``/``maxUnavailable`` are read with
  ``history.scaled_value``.
- Annotations on ReplicaSets: ``deployment.kubernetes.io/revision``, ``revision-history`` (at most 2,000
  characters), ``desired-replicas`` and ``max-replicas``; the Deployment's other annotations are copied
  (``kubectl.kubernetes.io/last-applied-configuration`` and the deployment ones excepted).
- Conditions keep upstream's types, reasons and messages; a condition set again with the same status and
  reason is left alone, and ``lastTransitionTime`` moves only when the status changes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

from actors.controllers import history
from actors.controllers.framework import Obj
from kube import errors, meta

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH = "pod-template-hash"
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_REVISION_HISTORY_LIMIT = 10
ANNOTATIONS_TO_SKIP = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)

# Condition types and reasons (``deploymentutil``).
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"


# -- spec accessors (defaults as apps/v1's SetDefaults_Deployment) -------------------------------------------


def replicas(obj: Mapping[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def strategy_type(d: Mapping[str, Any]) -> str:
    return str(((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate")


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    return strategy_type(d) == "RollingUpdate"


def progress_deadline(d: Mapping[str, Any]) -> int | None:
    """``spec.progressDeadlineSeconds`` (600 when absent); ``None`` for MaxInt32, which means no deadline."""
    value = int((d.get("spec") or {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS))
    return None if value == MAX_INT32 else value


def revision_history_limit(d: Mapping[str, Any]) -> int | None:
    """``spec.revisionHistoryLimit`` (10 when absent); ``None`` for MaxInt32, which keeps everything."""
    value = int((d.get("spec") or {}).get("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT))
    return None if value == MAX_INT32 else value


def fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    """``ResolveFenceposts``: (maxSurge, maxUnavailable) of a RollingUpdate deployment."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = history.scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = history.scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # validation forbids both zero; rounding down may still get there
    return surge, unavailable


def max_surge(d: Mapping[str, Any]) -> int:
    return fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


# -- templates -----------------------------------------------------------------------------------------------


def equal_ignore_hash(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> bool:
    """``EqualIgnoreHash``: two pod templates equal but for their ``pod-template-hash`` label."""
    return bool(_without_hash(t1) == _without_hash(t2))


def _without_hash(template: Mapping[str, Any]) -> Any:
    copy = meta.deep_copy(dict(template))
    ((copy.get("metadata") or {}).get("labels") or {}).pop(POD_TEMPLATE_HASH, None)
    return history.omit_empty(copy)


# -- revisions and annotations -------------------------------------------------------------------------------


def revision(obj: Mapping[str, Any]) -> int | None:
    """The ``revision`` annotation as a number (0 when absent, ``None`` when it is not a number)."""
    text = meta.annotations_of(obj).get(REVISION)
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        return None


def max_revision(rss: Iterable[Mapping[str, Any]]) -> int:
    return max((r for r in (revision(rs) for rs in rss) if r is not None), default=0)


def meta_annotation(obj: Mapping[str, Any], key: str) -> str | None:
    value = meta.annotations_of(obj).get(key)
    return None if value is None else str(value)


def _annotations(obj: Obj) -> dict[str, str]:
    md = obj.setdefault("metadata", {})
    if md.get("annotations") is None:
        md["annotations"] = {}
    result: dict[str, str] = md["annotations"]
    return result


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    """Write ``desired-replicas`` and ``max-replicas``; whether anything changed."""
    annotations = _annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, maximum: int) -> bool:
    annotations = meta.annotations_of(rs)
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def int_annotation(rs: Mapping[str, Any], key: str) -> int | None:
    try:
        return int(meta.annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None


def set_new_replica_set_annotations(
    d: Mapping[str, Any], rs: Obj, new_revision: int, *, exists: bool
) -> bool:
    """``SetNewReplicaSetAnnotations``: copy the deployment's annotations, raise the revision (keeping the
    old one in ``revision-history``, as a rollback does), and for a new RS set the replica annotations."""
    annotations = _annotations(rs)
    changed = False
    for key, value in meta.annotations_of(d).items():
        if key not in ANNOTATIONS_TO_SKIP and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old_text = annotations.get(REVISION)
    try:
        old_revision = int(old_text) if old_text is not None else 0
    except ValueError:
        return False
    if old_revision < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = annotations.get(REVISION_HISTORY, "")
            if not history:
                annotations[REVISION_HISTORY] = old_text
            else:
                kept = history.split(",")
                total = len(history) + len(old_text) + 1
                while total > MAX_REVISION_HISTORY_CHARS and kept:
                    total -= len(kept.pop(0)) + 1
                if total <= MAX_REVISION_HISTORY_CHARS:
                    annotations[REVISION_HISTORY] = ",".join([*kept, old_text])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# -- finding and ordering replica sets -----------------------------------------------------------------------


def created_at(obj: Mapping[str, Any]) -> float:
    text = (obj.get("metadata") or {}).get("creationTimestamp")
    if not text:
        return -math.inf  # Go's zero time sorts first
    try:
        return meta.parse_rfc3339(text)
    except errors.ValidationError:
        return -math.inf


def by_creation(obj: Mapping[str, Any]) -> tuple[float, str]:
    """``ReplicaSetsByCreationTimestamp``: oldest first, the name breaking ties."""
    return created_at(obj), (obj.get("metadata") or {}).get("name", "")


def by_size_older(rs: Mapping[str, Any]) -> tuple[int, float, str]:
    """``ReplicaSetsBySizeOlder``: largest first, then oldest first."""
    return -replicas(rs), *by_creation(rs)


def sorted_by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """``ReplicaSetsBySizeNewer``: largest first, then newest first."""
    return sorted(sorted(rss, key=by_creation, reverse=True), key=lambda rs: -replicas(rs))


def _compare_revision(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    ra, rb = revision(a), revision(b)
    if ra is None or rb is None or ra == rb:
        ka, kb = by_creation(a), by_creation(b)
        return -1 if ka < kb else (1 if ka > kb else 0)
    return -1 if ra < rb else 1


def sorted_by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """``ReplicaSetsByRevision``: lowest revision first (creation time when equal or unreadable)."""
    return sorted(rss, key=functools.cmp_to_key(_compare_revision))


def find_new_replica_set(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """``FindNewReplicaSet``: the oldest ReplicaSet whose template is the deployment's."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """``FilterActiveReplicaSets``: those that have (or ought to have) pods."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


# -- rollout arithmetic --------------------------------------------------------------------------------------


def new_rs_new_replicas(
    d: Mapping[str, Any], all_rss: Iterable[Obj | None], new_rs: Mapping[str, Any]
) -> int:
    """``NewRSNewReplicas``: the size the new ReplicaSet may grow to now."""
    if not is_rolling_update(d):
        return replicas(d)
    current = total_replicas(all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    """``IsSaturated``: the new ReplicaSet has, wants and sees available all the desired replicas."""
    if rs is None:
        return False
    desired = int_annotation(rs, DESIRED_REPLICAS)
    want = replicas(d)
    return replicas(rs) == want and desired == want and status_int(rs, "availableReplicas") == want


def _go_round(x: float) -> int:
    """Go's ``math.Round``: half away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def proportion(rs: Mapping[str, Any] | None, d: Mapping[str, Any], to_add: int, added: int) -> int:
    """``GetProportion``: this ReplicaSet's share of ``to_add`` replicas, never past what is left."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    allowed = to_add - added
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        deployment_replicas = replicas(d) + max_surge(d)
        annotated = int_annotation(rs, MAX_REPLICAS)
        if annotated is None:
            annotated = status_int(d, "replicas")
        fraction = (
            _go_round(replicas(rs) * deployment_replicas / annotated) - replicas(rs) if annotated else 0
        )
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# -- conditions and status -----------------------------------------------------------------------------------


def new_condition(kind: str, status: str, reason: str, message: str, now: float) -> Obj:
    stamp = meta.now_rfc3339(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def get_condition(status: Mapping[str, Any], kind: str) -> Obj | None:
    for condition in status.get("conditions") or ():
        if condition.get("type") == kind:
            return dict(condition)
    return None


def set_condition(status: Obj, condition: Obj) -> None:
    """``SetDeploymentCondition``: replace the condition of its type unless status and reason are the same."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"]:
        if current.get("reason") == condition["reason"]:
            return
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, condition["type"])
    status["conditions"] = [*(status.get("conditions") or ()), condition]


def remove_condition(status: Obj, kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != kind]


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    want = replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0)
        >= int((d.get("metadata") or {}).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``DeploymentProgressing``: more updated, ready or available pods, or fewer old ones, than before."""
    old = d.get("status") or {}

    def get(status: Mapping[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or new_old < old_old
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: float) -> bool:
    """``DeploymentTimedOut``: no progress reported for longer than ``progressDeadlineSeconds``."""
    deadline = progress_deadline(d)
    condition = get_condition(status, PROGRESSING)
    if deadline is None or condition is None or condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    since = condition.get("lastUpdateTime")
    try:
        return bool(since) and meta.parse_rfc3339(str(since)) + deadline < now
    except errors.ValidationError:
        return False


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Mapping[str, Any], now: float) -> Obj:
    """``calculateStatus``: counts from the ReplicaSets, the Available condition, other conditions kept."""
    available = total_status(all_rss, "availableReplicas")
    status: Obj = {
        "observedGeneration": int((d.get("metadata") or {}).get("generation") or 0),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total_replicas(all_rss) - available, 0),
        "conditions": [dict(c) for c in (d.get("status") or {}).get("conditions") or ()],
    }
    collision = (d.get("status") or {}).get("collisionCount")
    if collision is not None:
        status["collisionCount"] = collision
    if available >= replicas(d) - max_unavailable(d):
        condition = new_condition(
            AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        condition = new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, condition)
    return status
