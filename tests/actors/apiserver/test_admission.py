"""Mutating admission on create: DefaultTolerationSeconds, as upstream's plugin adds it."""

from __future__ import annotations

from typing import Any

from actors.apiserver import admission
from kube import kinds

PODS = kinds.DEFAULT.by_resource("", "v1", "pods")
DEFAULTS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]


def admitted(tolerations: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    assert PODS is not None
    pod: dict[str, Any] = {"spec": {"containers": []}}
    if tolerations is not None:
        pod["spec"]["tolerations"] = tolerations
    admission.admit_create(PODS, pod)
    result: list[dict[str, Any]] = pod["spec"]["tolerations"]
    return result


def test_every_pod_tolerates_an_unready_or_unreachable_node_for_five_minutes() -> None:
    assert admitted(None) == DEFAULTS


def test_a_pod_that_says_how_it_tolerates_a_taint_keeps_its_own() -> None:
    own = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 5,
    }
    assert admitted([own]) == [own, DEFAULTS[0]]
    everything = {"operator": "Exists"}
    assert admitted([everything]) == [everything]
    no_schedule_only = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}
    assert admitted([no_schedule_only]) == [no_schedule_only, *DEFAULTS]


def test_other_kinds_are_left_alone() -> None:
    services = kinds.DEFAULT.by_resource("", "v1", "services")
    assert services is not None
    svc: dict[str, Any] = {"spec": {}}
    admission.admit_create(services, svc)
    assert svc == {"spec": {}}
