"""A Job's pods (upstream's ``pkg/controller/job`` pod helpers): what a new one looks like, how their state
reads, which active ones go first.

- ``new_pod``: upstream's ``GetPodFromTemplate`` with ``generateName: <job>-``, a controller ownerReference
  and the ``batch.kubernetes.io/job-tracking`` finalizer; for an Indexed Job also the completion index
  (annotation and label), ``JOB_COMPLETION_INDEX`` from the label, hostname ``<job>-<index>`` and
  ``generateName: <job>-<index>-`` (cut to fit the generated-name limit);
- a pod counts as failed when Failed, or (unless only failed pods are replaced: ``podReplacementPolicy:
  Failed``, or any ``podFailurePolicy``) deleted before it succeeded;
- ``pods_for_removal``: active pods to delete, Indexed duplicates and out-of-range pods first, then in
  ``controller.ActivePods`` order (unscheduled, Pending, not ready, ready for less time, more restarts,
  younger first); ``drop_finalizer`` is the strategic merge patch that lets a counted pod go.
"""

from __future__ import annotations

from typing import Any

from actors.controllers import framework as fw
from actors.controllers import job_indexed as indexed_
from actors.controllers import ownership
from kube import meta

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    if phase(pod) == "Failed":
        return True
    return not only_replace_failed(job) and fw.is_terminating(pod) and phase(pod) != "Succeeded"


def _active_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key putting the pods to delete first (upstream's ``controller.ActivePods``)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase(pod), 0)
    ready, since = fw.ready_since(pod)
    ready_since = since or 0.0
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    newer_first = -meta.parse_rfc3339(created) if created else 0.0
    return (bool(spec.get("nodeName")), phase_rank, ready, -ready_since, -restarts, newer_first)


def pods_for_removal(job: Obj, active: list[Obj], at_least: int) -> list[Obj]:
    """Active pods to delete: for Indexed Jobs every duplicate, out-of-range or index-less pod first."""
    remove: list[Obj] = []
    left = active
    spec = job.get("spec") or {}
    if spec.get("completionMode") == "Indexed":
        completions, by_index, left = int(spec.get("completions") or 0), dict[int, list[Obj]](), []
        for pod in active:
            ix = indexed_.completion_index(pod)
            if ix < 0 or ix >= completions:
                remove.append(pod)
            else:
                by_index.setdefault(ix, []).append(pod)
        for pods in by_index.values():
            ordered = sorted(pods, key=_active_rank)
            remove.extend(ordered[:-1])
            left.append(ordered[-1])
    if len(remove) < at_least:
        remove.extend(sorted(left, key=_active_rank)[: at_least - len(remove)])
    return remove


def drop_finalizer(pod: Obj) -> fw.Patch:
    md = pod.get("metadata") or {}
    return fw.Patch(
        resource="pods",
        namespace=md.get("namespace"),
        name=md.get("name", ""),
        patch={"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}},
        patch_type="application/strategic-merge-patch+json",
    )


def new_pod(job: Obj, index: int | None) -> Obj:
    """A pod from the Job's template (upstream's ``GetPodFromTemplate`` plus the index decorations)."""
    md, spec = job.get("metadata") or {}, job.get("spec") or {}
    template = meta.deep_copy(spec.get("template") or {})
    tmd = template.get("metadata") or {}
    pod_spec: Obj = template.get("spec") or {}
    labels, annotations = dict(tmd.get("labels") or {}), dict(tmd.get("annotations") or {})
    finalizers = list(tmd.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    name = str(md.get("name", ""))
    generate_name = f"{name}-"
    if index is not None:
        annotations[indexed_.COMPLETION_INDEX] = labels[indexed_.COMPLETION_INDEX] = str(index)
        pod_spec["hostname"] = f"{name}-{index}"
        suffix = f"-{index}-"
        generate_name = name + suffix
        if len(generate_name) > meta.MAX_GENERATED_NAME_LENGTH:
            generate_name = generate_name[: meta.MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
        field = f"metadata.labels['{indexed_.COMPLETION_INDEX}']"
        for container in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
            env = container.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": field}}})
    pod_md: Obj = {
        "generateName": generate_name,
        "namespace": md.get("namespace"),
        "labels": labels,
        "finalizers": finalizers,
        "ownerReferences": [ownership.controller_ref(job, api_version="batch/v1", kind="Job")],
    }
    if annotations:
        pod_md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_md, "spec": pod_spec}
