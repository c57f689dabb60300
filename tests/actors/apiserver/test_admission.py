"""Admission on create: DefaultTolerationSeconds and Priority, as upstream's plugins do them."""

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
    pod: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {"containers": []}}
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


def test_a_pod_gets_its_priority_from_its_class_or_the_global_default() -> None:
    import pytest

    from actors.apiserver import status

    assert PODS is not None
    classes = [
        {"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"},
        {"metadata": {"name": "usual"}, "value": 10, "globalDefault": True},
    ]
    named: dict[str, Any] = {"metadata": {"name": "a"}, "spec": {"priorityClassName": "high"}}
    admission.admit_create(PODS, named, lambda: classes)
    assert (named["spec"]["priority"], named["spec"]["preemptionPolicy"]) == (1000, "Never")
    plain: dict[str, Any] = {"metadata": {"name": "b"}, "spec": {}}
    admission.admit_create(PODS, plain, lambda: classes)
    assert (plain["spec"]["priorityClassName"], plain["spec"]["priority"]) == ("usual", 10)
    with pytest.raises(status.ApiError) as missing:
        admission.admit_create(PODS, {"metadata": {"name": "c"}, "spec": {"priorityClassName": "x"}})
    assert (missing.value.code, missing.value.message) == (
        403,
        'pods "c" is forbidden: no PriorityClass with name x was found',
    )
    with pytest.raises(status.ApiError) as disagrees:
        admission.admit_create(PODS, {"metadata": {"name": "d"}, "spec": {"priority": 7}})
    assert disagrees.value.message == (
        'pods "d" is forbidden: the integer value of priority (7) must not be provided in pod spec; '
        "priority admission controller computed 0 from the given PriorityClass name"
    )
