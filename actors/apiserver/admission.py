"""Mutating admission the apiserver runs on create, after defaulting, as upstream's default plugins do.

- ``DefaultTolerationSeconds``: every pod tolerates ``node.kubernetes.io/not-ready:NoExecute`` and
  ``node.kubernetes.io/unreachable:NoExecute`` for 300 s unless it already says how it tolerates them, so a
  node that stops heartbeating has its pods evicted five minutes after it is tainted.
"""

from __future__ import annotations

from typing import Any

from kube import kinds

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


def admit_create(kind: kinds.Kind, obj: dict[str, Any]) -> None:
    """Mutate ``obj`` (a fresh copy the caller owns) as the enabled admission plugins would."""
    if kind.group == "" and kind.resource == "pods":
        _default_toleration_seconds(obj)


def _default_toleration_seconds(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    for key in (NOT_READY, UNREACHABLE):
        if any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            continue
        tolerations = [
            *tolerations,
            {
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            },
        ]
    spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: dict[str, Any], key: str) -> bool:
    """Whether a toleration already covers ``key``'s NoExecute taint (upstream checks the key and an
    empty or NoExecute effect; an empty key with Exists covers every key)."""
    effect = toleration.get("effect") or ""
    if effect not in ("", "NoExecute"):
        return False
    taint_key = toleration.get("key") or ""
    return taint_key == key or (not taint_key and toleration.get("operator") == "Exists")
