"""A pod's effective resource requests and a node's allocatable, as kube-scheduler (v1.31) computes them.

Emulated upstream behaviour (``k8s.io/component-helpers/resource.PodRequests`` as called by the scheduler's
``NodeInfo.AddPod`` and the ``NodeResourcesFit`` plugin):

* Regular containers' requests are summed.
* Init containers run one after another, so each counts on its own; a sidecar (an init container with
  ``restartPolicy: Always``) keeps running, so it is added to the sum *and* to every later init container:
  ``init_use(i) = sum(sidecars before i) + request(i)`` for an ordinary init container and
  ``sum(sidecars up to and including i)`` for a sidecar. The pod's request is ``max(sum, max_i init_use(i))``
  per resource (the sidecar KEP's formula, beta and on by default since v1.29).
* ``spec.overhead`` (RuntimeClass pod overhead) is added on top.
* A container resource that has a limit but no request requests its limit. That is the apiserver's
  defaulting (``SetDefaults_Pod``), applied here too because not every pod handed to the scheduler went
  through it.
* Scoring uses "non-zero" requests (upstream's ``NonMissingContainerRequests`` option): a container that
  does not mention cpu or memory at all counts ``DEFAULT_MILLI_CPU_REQUEST`` (100m) or
  ``DEFAULT_MEMORY_REQUEST`` (200 MiB) for it, so best-effort pods still spread; a request written as ``0``
  stays 0. Filters and bookkeeping of what is requested never use these defaults.

Units are integers, rounded up as upstream's ``MilliValue``/``Value``: cpu in millicores, memory and
ephemeral-storage in bytes; ``pods`` is the number of pod slots a pod takes (always 1).

Deviations: pod-level ``spec.resources`` (alpha in v1.32), in-place resize status, hugepages and extended
resources (``nvidia.com/gpu``...) are not considered; an unparsable quantity, which the apiserver would
have refused, counts as absent.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from kube import quantity
from kube.errors import QuantityError

DEFAULT_MILLI_CPU_REQUEST = 100
"""upstream's ``schedutil.DefaultMilliCPURequest``: 0.1 core for a container without a cpu request."""

DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""upstream's ``schedutil.DefaultMemoryRequest``: 200 MiB for a container without a memory request."""

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


@dataclasses.dataclass(frozen=True, slots=True)
class Resources:
    """Amounts of the resources the scheduler accounts: millicores, bytes, bytes and pod slots."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    pods: int = 0


def amount(name: str, raw: object) -> int | None:
    """A quantity in the scheduler's unit for ``name`` (millicores for cpu, else whole units, rounded up).

    ``None`` when absent or unparsable. JSON numbers (``cpu: 1``) are read as their decimal text.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        raw = repr(raw) if isinstance(raw, float) else str(raw)
    if not isinstance(raw, str):
        return None
    try:
        q = quantity.parse(raw)
    except QuantityError:
        return None
    return q.milli_value() if name == CPU else q.value()


_TRACKED = (CPU, MEMORY, EPHEMERAL_STORAGE)
_NON_MISSING = (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST, None)


def _container_requests(
    requests: Mapping[str, Any], limits: Mapping[str, Any], non_missing: bool
) -> tuple[int, int, int]:
    """(cpu, memory, ephemeral-storage) a container requests (limits standing in for missing requests)."""
    out = [0, 0, 0]
    for i, name in enumerate(_TRACKED):
        raw = requests.get(name)
        if raw is None:
            raw = limits.get(name)
        value = amount(name, raw)
        if value is None:
            default = _NON_MISSING[i]
            value = default if non_missing and default is not None else 0
        out[i] = value
    return out[0], out[1], out[2]


_Items = tuple[tuple[Any, Any], ...]
_ResourcesKey = tuple[tuple[tuple[bool, bool, _Items, _Items], ...], _Items]
"""What a pod's requests depend on: per container (init?, sidecar?, requests' items, limits' items), in
order, and the overhead's items."""


def _items(mapping: Any) -> _Items:
    if type(mapping) is dict or isinstance(mapping, Mapping):  # the first test is the cheap one
        return tuple(mapping.items())
    return ()


def _resources_key(spec: Mapping[str, Any]) -> _ResourcesKey:
    containers: list[tuple[bool, bool, _Items, _Items]] = []
    for init, field in ((False, "containers"), (True, "initContainers")):
        for container in spec.get(field) or ():
            resources = container.get("resources") or {}
            sidecar = init and container.get("restartPolicy") == "Always"
            containers.append(
                (init, sidecar, _items(resources.get("requests")), _items(resources.get("limits")))
            )
    return tuple(containers), _items(spec.get("overhead"))


def _aggregate(key: _ResourcesKey, non_missing: bool) -> Resources:
    containers, overhead_items = key
    total = [0, 0, 0]
    sidecars = [0, 0, 0]
    init_max = [0, 0, 0]
    for init, sidecar, requests, limits in containers:
        own = _container_requests(dict(requests), dict(limits), non_missing)
        if not init:
            for i in range(3):
                total[i] += own[i]
            continue
        if sidecar:
            for i in range(3):
                total[i] += own[i]
                sidecars[i] += own[i]
            use = list(sidecars)
        else:
            use = [own[i] + sidecars[i] for i in range(3)]
        for i in range(3):
            init_max[i] = max(init_max[i], use[i])
    for i in range(3):
        total[i] = max(total[i], init_max[i])
    overhead = dict(overhead_items)
    for i, name in enumerate(_TRACKED):
        extra = amount(name, overhead.get(name))
        if extra:
            total[i] += extra
    return Resources(milli_cpu=total[0], memory=total[1], ephemeral_storage=total[2], pods=1)


def _resources_of(key: _ResourcesKey) -> tuple[Resources, Resources]:
    return _aggregate(key, non_missing=False), _aggregate(key, non_missing=True)


_memoised_resources_of = functools.lru_cache(maxsize=4096)(_resources_of)


def pod_resources(pod: Mapping[str, Any]) -> tuple[Resources, Resources]:
    """``(pod_requests(pod), non_zero_requests(pod))`` at once, memoised by what they read (pods of one
    template share the answer; a scheduling cycle and the bookkeeping after it ask several times)."""
    key = _resources_key(pod.get("spec") or {})
    try:
        return _memoised_resources_of(key)
    except TypeError:  # an unhashable value (a malformed quantity): not memoised
        return _resources_of(key)


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """What a pod requests (upstream's ``PodRequests`` with default options), plus its one pod slot."""
    return pod_resources(pod)[0]


def non_zero_requests(pod: Mapping[str, Any]) -> Resources:
    """The requests scoring uses: missing container cpu/memory requests count 100m and 200 MiB."""
    return pod_resources(pod)[1]


def node_allocatable(node: Mapping[str, Any]) -> Resources:
    """A node's ``status.allocatable`` (each resource falling back to ``status.capacity``, as defaulting)."""
    status: Mapping[str, Any] = node.get("status") or {}
    allocatable: Mapping[str, Any] = status.get("allocatable") or {}
    capacity: Mapping[str, Any] = status.get("capacity") or {}
    values: list[int] = []
    for name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS):
        raw = allocatable.get(name)
        if raw is None:
            raw = capacity.get(name)
        values.append(amount(name, raw) or 0)
    return Resources(milli_cpu=values[0], memory=values[1], ephemeral_storage=values[2], pods=values[3])
