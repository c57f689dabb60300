"""Endpoints subsets: a Packing kept in step with changes packs and truncates as ``repack`` then ``truncate``
do, and gives up (``fits`` False) when the pods' shape needs the pod order or several subsets."""

from __future__ import annotations

import random

import pytest

from actors.controllers import subsets
from actors.controllers.subsets import PodEndpoint

HTTP = ("http", 8080, "TCP", "")


def endpoint(
    i: int, *, ready: bool = True, ports: tuple[subsets.PortKey | None, ...] = (HTTP,)
) -> PodEndpoint:
    ip = f"10.0.{i // 200}.{i % 200 + 1}"
    address = {
        "ip": ip,
        "targetRef": {"kind": "Pod", "namespace": "default", "name": f"p{i}", "uid": f"u{i}"},
    }
    return PodEndpoint(address=address, key=(ip, f"u{i}"), ready=ready, ports=ports)


def expected(endpoints: list[PodEndpoint], capacity: int) -> tuple[list[dict[str, object]], bool]:
    packed, _ = subsets.repack(endpoints)
    return packed, subsets.truncate(packed, capacity)


@pytest.mark.parametrize(
    ("count", "capacity"), [(30, 1000), (300, 120), (300, 250)], ids=["all", "ready-cut", "not-ready-cut"]
)
def test_a_packing_kept_in_step_packs_as_repack_and_truncate(count: int, capacity: int) -> None:
    rng = random.Random(count + capacity)
    current = {i: endpoint(i, ready=rng.random() < 0.6) for i in range(count)}
    packing = subsets.Packing(current.values())
    for step in range(40):
        assert packing.fits
        assert packing.subsets(capacity) == expected(list(current.values()), capacity), step
        removed, added = [], []
        for i in rng.sample(range(count + 40), 12):
            if i in current:
                removed.append(current.pop(i))
            if rng.random() < 0.7:
                current[i] = endpoint(i, ready=rng.random() < 0.6)
                added.append(current[i])
        packing.change(removed, added)


@pytest.mark.parametrize(
    "odd",
    [endpoint(1, ports=()), endpoint(1, ports=(None,)), endpoint(0)],
    ids=["other-ports", "no-ports", "same-address"],
)
def test_pods_of_another_shape_make_it_give_up(odd: PodEndpoint) -> None:
    packing = subsets.Packing([endpoint(0), endpoint(2)])
    packing.change([], [odd])
    assert not packing.fits


def test_headless_without_ports_and_no_endpoints() -> None:
    headless = [endpoint(i, ports=(None,)) for i in range(3)]
    assert subsets.Packing(headless).subsets() == expected(headless, 1000)
    assert subsets.Packing([]).subsets() == ([], False)
