"""A pod's effective requests (upstream's PodRequests) and a node's allocatable, as tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from actors.scheduler.resources import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Resources,
    amount,
    node_allocatable,
    non_zero_requests,
    pod_requests,
    pod_resources,
)

Mi = 1024 * 1024
Gi = 1024 * Mi


def ctr(
    requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "image": "busybox", "resources": resources, **extra}


def sidecar(requests: dict[str, Any]) -> dict[str, Any]:
    return ctr(requests, restartPolicy="Always")


def pod(
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    overhead: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers}
    if init is not None:
        spec["initContainers"] = init
    if overhead is not None:
        spec["overhead"] = overhead
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def res(cpu: int = 0, memory: int = 0, storage: int = 0) -> Resources:
    return Resources(milli_cpu=cpu, memory=memory, ephemeral_storage=storage, pods=1)


# (case, pod, requests, non-zero requests)
REQUESTS: list[tuple[str, dict[str, Any], Resources, Resources]] = [
    (
        "one container",
        pod([ctr({"cpu": "500m", "memory": "128Mi"})]),
        res(500, 128 * Mi),
        res(500, 128 * Mi),
    ),
    (
        "containers are summed",
        pod([ctr({"cpu": "250m", "memory": "64Mi"}), ctr({"cpu": "1", "memory": "1Gi"})]),
        res(1250, 64 * Mi + Gi),
        res(1250, 64 * Mi + Gi),
    ),
    (
        "a limit without a request requests the limit",
        pod([ctr(limits={"cpu": "2", "memory": "1Gi"})]),
        res(2000, Gi),
        res(2000, Gi),
    ),
    (
        "the request wins over the limit",
        pod([ctr({"cpu": "100m"}, {"cpu": "2", "memory": "1Gi"})]),
        res(100, Gi),
        res(100, Gi),
    ),
    (
        "no requests: zero, and the scoring defaults",
        pod([ctr()]),
        res(),
        res(DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST),
    ),
    (
        "an explicit zero is not missing",
        pod([ctr({"cpu": "0", "memory": "0"})]),
        res(),
        res(),
    ),
    (
        "defaults apply per container and per resource",
        pod([ctr({"cpu": "1"}), ctr({"memory": "1Gi"})]),
        res(1000, Gi),
        res(1000 + 100, 200 * Mi + Gi),
    ),
    (
        "a big init container sets the floor",
        pod([ctr({"cpu": "1", "memory": "1Gi"})], init=[ctr({"cpu": "2", "memory": "512Mi"})]),
        res(2000, Gi),
        res(2000, Gi),
    ),
    (
        "init containers run one at a time: the max, not the sum",
        pod([ctr({"cpu": "100m"})], init=[ctr({"cpu": "1"}), ctr({"cpu": "3"}), ctr({"cpu": "2"})]),
        res(3000),
        res(3000, DEFAULT_MEMORY_REQUEST),
    ),
    (
        "a sidecar adds to the containers",
        pod([ctr({"cpu": "1"})], init=[sidecar({"cpu": "500m", "memory": "64Mi"})]),
        res(1500, 64 * Mi),
        res(1500, 64 * Mi + DEFAULT_MEMORY_REQUEST),
    ),
    (
        "an init container after a sidecar runs beside it",
        pod([ctr({"cpu": "1"})], init=[sidecar({"cpu": "1"}), ctr({"cpu": "3"})]),
        res(4000),
        res(4000, 2 * DEFAULT_MEMORY_REQUEST),
    ),
    (
        "an init container before a sidecar does not",
        pod([ctr({"cpu": "1"})], init=[ctr({"cpu": "2"}), sidecar({"cpu": "1"})]),
        res(2000),
        res(2000, 2 * DEFAULT_MEMORY_REQUEST),
    ),
    (
        "sidecars accumulate for later init containers",
        pod(
            [ctr({"cpu": "100m"})],
            init=[sidecar({"cpu": "1"}), sidecar({"cpu": "1"}), ctr({"cpu": "3"})],
        ),
        res(5000),
        res(5000, 3 * DEFAULT_MEMORY_REQUEST),
    ),
    (
        "pod overhead is added",
        pod([ctr({"cpu": "1", "memory": "1Gi"})], overhead={"cpu": "250m", "memory": "120Mi"}),
        res(1250, Gi + 120 * Mi),
        res(1250, Gi + 120 * Mi),
    ),
    (
        "overhead on top of the init floor",
        pod([ctr({"cpu": "1"})], init=[ctr({"cpu": "2"})], overhead={"cpu": "100m"}),
        res(2100),
        res(2100, DEFAULT_MEMORY_REQUEST),
    ),
    (
        "ephemeral storage",
        pod([ctr({"ephemeral-storage": "2Gi"}), ctr(limits={"ephemeral-storage": "1Gi"})]),
        res(storage=3 * Gi),
        res(2 * DEFAULT_MILLI_CPU_REQUEST, 2 * DEFAULT_MEMORY_REQUEST, 3 * Gi),
    ),
    (
        "JSON numbers",
        pod([ctr({"cpu": 2, "memory": 1000}), ctr({"cpu": 0.5})]),
        res(2500, 1000),
        res(2500, 1000 + DEFAULT_MEMORY_REQUEST),
    ),
    (
        "values round up as MilliValue and Value",
        pod([ctr({"cpu": "1500u", "memory": "1500m"})]),
        res(2, 2),
        res(2, 2),
    ),
    (
        "extended resources are ignored",
        pod([ctr({"cpu": "1", "nvidia.com/gpu": "1"})]),
        res(1000),
        res(1000, DEFAULT_MEMORY_REQUEST),
    ),
    (
        "an unparsable quantity counts as absent",
        pod([ctr({"cpu": "lots", "memory": "1Gi"})]),
        res(0, Gi),
        res(DEFAULT_MILLI_CPU_REQUEST, Gi),
    ),
]


@pytest.mark.parametrize(("case", "spec", "requests", "non_zero"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_pod_requests(case: str, spec: dict[str, Any], requests: Resources, non_zero: Resources) -> None:
    assert pod_requests(spec) == requests
    assert non_zero_requests(spec) == non_zero


def test_requests_are_memoised_by_what_they_read() -> None:
    first = pod([ctr({"cpu": "250m", "memory": "64Mi"})])
    resized = pod([ctr({"cpu": "500m", "memory": "64Mi"})])
    assert pod_resources(first) == (pod_requests(first), non_zero_requests(first))
    assert pod_requests(pod([ctr({"cpu": "250m", "memory": "64Mi"})])) == Resources(250, 64 * Mi, 0, 1)
    assert pod_requests(resized) == Resources(500, 64 * Mi, 0, 1)
    sidecars = pod([ctr({"cpu": "1"})], init=[sidecar({"cpu": "1"})])
    plain_init = pod([ctr({"cpu": "1"})], init=[ctr({"cpu": "1"})])
    assert (pod_requests(sidecars).milli_cpu, pod_requests(plain_init).milli_cpu) == (2000, 1000)


def test_an_unhashable_quantity_counts_as_absent() -> None:
    odd = pod([ctr({"cpu": ["1"], "memory": "1Gi"})])
    assert pod_requests(odd) == Resources(0, Gi, 0, 1)
    assert non_zero_requests(odd) == Resources(DEFAULT_MILLI_CPU_REQUEST, Gi, 0, 1)


def test_a_pod_without_spec_takes_a_slot() -> None:
    assert pod_requests({}) == Resources(pods=1)


def test_scoring_defaults_are_upstreams() -> None:
    defaults = {"cpu": DEFAULT_MILLI_CPU_REQUEST, "memory": DEFAULT_MEMORY_REQUEST}
    assert defaults == {"cpu": 100, "memory": 200 * Mi}


AMOUNTS: list[tuple[str, object, int | None]] = [
    ("cpu", "1", 1000),
    ("cpu", "250m", 250),
    ("cpu", "0.1", 100),
    ("cpu", 3, 3000),
    ("memory", "1Ki", 1024),
    ("memory", "1k", 1000),
    ("memory", "1e3", 1000),
    ("memory", "0.5", 1),
    ("memory", None, None),
    ("memory", "1.2.3", None),
    ("memory", True, None),
]


@pytest.mark.parametrize(("name", "raw", "expected"), AMOUNTS)
def test_amount(name: str, raw: object, expected: int | None) -> None:
    assert amount(name, raw) == expected


NODES: list[tuple[str, dict[str, Any], Resources]] = [
    (
        "allocatable",
        {
            "status": {
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "7910m", "memory": "31Gi", "pods": "110", "ephemeral-storage": "90Gi"},
            }
        },
        Resources(milli_cpu=7910, memory=31 * Gi, ephemeral_storage=90 * Gi, pods=110),
    ),
    (
        "capacity stands in for missing allocatable",
        {"status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "allocatable": {"cpu": "3"}}},
        Resources(milli_cpu=3000, memory=8 * Gi, ephemeral_storage=0, pods=110),
    ),
    ("no status", {"metadata": {"name": "n"}}, Resources()),
]


@pytest.mark.parametrize(("case", "node", "expected"), NODES, ids=[n[0] for n in NODES])
def test_node_allocatable(case: str, node: dict[str, Any], expected: Resources) -> None:
    assert node_allocatable(node) == expected
