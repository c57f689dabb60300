"""A Job's ``podFailurePolicy`` (upstream's ``pkg/controller/job/pod_failure_policy.go``).

The rules are tried in order against a failed pod; the first that matches decides: ``FailJob`` fails the
Job at once (with upstream's message naming the container and exit code, or the pod condition, and the
rule's index), ``Ignore`` does not count the failure toward ``backoffLimit``, ``Count`` counts it as usual.
A rule matches ``onExitCodes`` (a terminated container, init containers included, with a non-zero code
``In``/``NotIn`` the values, optionally only the named container) or ``onPodConditions`` (a condition of the
type with the status, ``True`` by default). ``FailIndex`` (per-index back-off) is not emulated.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def match_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, bool, str | None]:
    """(FailJob message, whether the failure counts toward ``backoffLimit``, the matched action)."""
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if not policy:
        return None, True, None
    md, status = pod.get("metadata") or {}, pod.get("status") or {}
    for index, rule in enumerate(policy.get("rules") or []):
        action, message = rule.get("action"), None
        if rule.get("onExitCodes") is not None:
            hit = _exit_code_match(status, rule["onExitCodes"])
            if hit is None:
                continue
            name, code = hit
            message = (
                f"Container {name} for pod {md.get('namespace')}/{md.get('name')} failed with exit code "
                f"{code} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            kind = _condition_match(status, rule["onPodConditions"])
            if kind is None:
                continue
            message = (
                f"Pod {md.get('namespace')}/{md.get('name')} has condition {kind} matching {action} rule "
                f"at index {index}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "FailJob":
            return message, True, action
        if action == "Count":
            return None, True, action
    return None, True, None


def _exit_code_match(status: Obj, requirement: Obj) -> tuple[str, int] | None:
    wanted, values = requirement.get("containerName"), set(requirement.get("values") or ())
    for cs in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is None or (wanted is not None and wanted != cs.get("name")):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code != 0 and (code in values) == (requirement.get("operator") == "In"):
            return str(cs.get("name")), code
    return None


def _condition_match(status: Obj, patterns: list[Obj]) -> str | None:
    for condition in status.get("conditions") or []:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get("status") == pattern.get(
                "status", "True"
            ):
                return str(condition["type"])
    return None
