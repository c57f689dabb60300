"""Validation of ``scheduling.k8s.io/v1`` PriorityClass, as upstream's ``ValidatePriorityClass``.

- a name starting with ``system-`` is reserved for the two system classes, with their exact values
  (``system-cluster-critical`` 2000000000, ``system-node-critical`` 2000001000);
- any other class may not be above ``HIGHEST_USER_DEFINABLE_PRIORITY`` (1000000000);
- ``preemptionPolicy`` is ``PreemptLowerPriority`` or ``Never``;
- on update, ``value`` and ``preemptionPolicy`` may not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube import validation_fields as f
from kube.errors import FieldError

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


def validate_priority_class(pc: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    name = str(f.mapping(pc.get("metadata")).get("name") or "")
    value = pc.get("value", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**31) <= value < 2**31:
        return [f.invalid("value", value, "must be a 32-bit integer")]
    if name.startswith(SYSTEM_PREFIX):
        known = SYSTEM_CLASSES.get(name)
        if known is None:
            detail = f"{name} is not a known system priority class"
        elif known != value:
            detail = f"value of {name} PriorityClass must be {known}"
        else:
            detail = ""
        if detail:
            errs.append(
                f.forbidden(
                    "metadata.name",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. "
                    f"error: {detail}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            f.forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        errs.append(f.not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def validate_priority_class_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    errs = validate_priority_class(new)
    if new.get("value", 0) != old.get("value", 0):
        errs.append(f.forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(f.invalid("preemptionPolicy", new.get("preemptionPolicy"), "field is immutable"))
    return errs
