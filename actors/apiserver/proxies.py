"""What the apiserver answers by asking another component: ``pods/log`` and ``metrics.k8s.io``.

Upstream's apiserver proxies ``GET .../pods/<name>/log`` to the kubelet of the pod's node, and
kube-aggregator proxies ``/apis/metrics.k8s.io`` to metrics-server. Ours asks the actors instead:
``kubelet/<node>`` (``Kubelet.logs``) and the metrics-server actor (``MetricsServer.get_metrics`` and
``list_metrics``).

``pods/log`` takes upstream's ``PodLogOptions`` from the query: ``container``, ``previous``,
``sinceSeconds``, ``sinceTime``, ``timestamps``, ``tailLines``, ``limitBytes`` and ``follow`` (the lines
there are, then each new one, until the container stops running). The checks and their words are
upstream's: a pod of several containers needs ``container`` (400 "a container name must be specified for
pod web, choose one of: [a b]"); an unknown one is 400 "container x is not valid for pod web"; a pod not
yet on a node has no log (an empty answer, as upstream's empty location); a container that has not started
is the kubelet's 400 "container "c" in pod "web" is waiting to start: ContainerCreating".
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from actors.apiserver import rest, status
from actors.runtime import errors as runtime_errors
from actors.runtime.clock import Clock
from actors.runtime.ref import ActorRef
from kube import kinds, meta, validation_fields


@dataclasses.dataclass(frozen=True, slots=True)
class LogRequest:
    """A checked ``PodLogOptions``: whose log, from where, how much."""

    container: str
    node: str  # "" while the pod is not on a node
    previous: bool
    since: float | None
    tail: int | None
    limit: int | None
    stamps: bool


FOLLOW_POLL_SECONDS = 0.5


async def log_request(
    api: rest.Rest, pods: kinds.Kind, now: float, namespace: str, name: str, query: dict[str, str]
) -> LogRequest:
    """``PodLogOptions`` from the query, checked against the pod as upstream checks them."""
    pod = await api.get(pods, namespace, name)
    spec = pod.get("spec") or {}
    container = query.get("container", "")
    names = [c.get("name", "") for c in spec.get("containers") or []]
    inits = [c.get("name", "") for c in spec.get("initContainers") or []]
    if not container:
        if len(names) == 1:
            container = names[0]
        elif not names:
            raise status.bad_request(f"a container name must be specified for pod {name}")
        else:
            message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
            if inits:
                message += f" or one of the init containers: [{' '.join(inits)}]"
            raise status.bad_request(message)
    if container not in names and container not in inits:
        raise status.bad_request(f"container {container} is not valid for pod {name}")
    tail = _non_negative(query, "tailLines")
    limit = _positive(query, "limitBytes")
    since_seconds = _positive(query, "sinceSeconds")
    since: float | None = now - since_seconds if since_seconds is not None else None
    if query.get("sinceTime"):
        if since is not None:
            raise _invalid(
                "sinceTime", query["sinceTime"], "at most one of sinceTime or sinceSeconds may be specified"
            )
        try:
            since = meta.parse_rfc3339(query["sinceTime"])
        except Exception:
            raise status.bad_request(
                f"invalid sinceTime {query['sinceTime']!r}: not an RFC 3339 time"
            ) from None
    return LogRequest(
        container=container,
        node=spec.get("nodeName") or "",
        previous=_flag(query, "previous"),
        since=since,
        tail=tail,
        limit=limit,
        stamps=_flag(query, "timestamps"),
    )


async def _lines(
    ref: Callable[[str], ActorRef],
    namespace: str,
    name: str,
    request: LogRequest,
    *,
    since: float | None,
    tail: int | None,
) -> list[tuple[float, str]]:
    try:
        lines: list[tuple[float, str]] = await ref(f"kubelet/{request.node}").call(
            "logs", namespace, name, request.container, previous=request.previous, since=since, tail=tail
        )
    except runtime_errors.ActorError as error:
        raise status.service_unavailable(
            f"the kubelet of node {request.node} did not answer: {error}"
        ) from None
    return lines


def _text(lines: list[tuple[float, str]], stamps: bool) -> bytes:
    return "".join(f"{_rfc3339_nano(t)} {line}\n" if stamps else f"{line}\n" for t, line in lines).encode()


async def pod_logs(
    api: rest.Rest,
    pods: kinds.Kind,
    ref: Callable[[str], ActorRef],
    now: float,
    namespace: str,
    name: str,
    query: dict[str, str],
) -> bytes:
    """The log text for ``kubectl logs``: one line per entry, each with a newline."""
    request = await log_request(api, pods, now, namespace, name, query)
    if not request.node:
        return b""
    lines = await _lines(ref, namespace, name, request, since=request.since, tail=request.tail)
    text = _text(lines, request.stamps)
    return text[: request.limit] if request.limit is not None else text


async def follow_pod_logs(
    api: rest.Rest,
    pods: kinds.Kind,
    ref: Callable[[str], ActorRef],
    clock: Clock,
    namespace: str,
    name: str,
    query: dict[str, str],
) -> AsyncIterator[bytes]:
    """``kubectl logs -f``: what there is now, then each new line as the container writes it, until the
    container stops running (it exited, or the pod is gone) or ``limitBytes`` are sent. The first chunk
    comes after every check, so a bad request is refused before anything streams. New lines are asked of
    the kubelet every ``FOLLOW_POLL_SECONDS`` (wall)."""
    request = await log_request(api, pods, clock.now(), namespace, name, query)
    if not request.node:
        yield b""
        return
    lines = await _lines(ref, namespace, name, request, since=request.since, tail=request.tail)
    left = request.limit
    last: float | None = None  # the time of the last line sent, and how many were sent with that time
    at_last = 0
    while True:
        text = _text(lines, request.stamps)
        if left is not None:
            text, left = text[:left], left - len(text[:left])
        yield text
        for t, _ in lines:
            last, at_last = (t, at_last + 1) if t == last else (t, 1)
        if left == 0 or request.previous:
            return
        running = await _running(api, pods, namespace, name, request.container)  # before the last look
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
        try:
            fresh = await _lines(
                ref, namespace, name, request, since=last if last is not None else request.since, tail=None
            )
        except status.ApiError:
            return  # the pod left its kubelet: nothing more will come
        skip = at_last if last is not None else 0
        lines = []
        for t, line in fresh:
            if t == last and skip > 0:  # sent already (``since`` is inclusive)
                skip -= 1
                continue
            lines.append((t, line))
        if not running and not lines:
            return


async def _running(api: rest.Rest, pods: kinds.Kind, namespace: str, name: str, container: str) -> bool:
    """Whether the pod's container is running now, as its status says (False once the pod is gone)."""
    try:
        pod = await api.get(pods, namespace, name)
    except status.ApiError:
        return False
    status_ = pod.get("status") or {}
    for entry in (status_.get("containerStatuses") or []) + (status_.get("initContainerStatuses") or []):
        if entry.get("name") == container:
            return "running" in (entry.get("state") or {})
    return False


async def aggregated(
    metrics_server: ActorRef,
    verb: str,
    kind: kinds.Kind,
    namespace: str | None,
    name: str | None,
    query: dict[str, str],
) -> Any:
    """A ``metrics.k8s.io`` get or list, answered by metrics-server (503 when it is not running)."""
    try:
        if verb == "get":
            assert name is not None
            return await metrics_server.call("get_metrics", kind.resource, namespace, name)
        return await metrics_server.call(
            "list_metrics", kind.resource, namespace, label_selector=query.get("labelSelector", "")
        )
    except runtime_errors.ActorError:
        raise unavailable(kind) from None


def unavailable(kind: kinds.Kind) -> status.ApiError:
    """503 as kube-aggregator answers when the API's service (metrics-server) is not there."""
    error = status.service_unavailable("the server is currently unable to handle the request")
    error.status["details"] = {"group": kind.group, "kind": kind.resource}
    return error


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def _number(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise status.bad_request(f"invalid {name} {value!r}: must be an integer") from None


def _non_negative(query: dict[str, str], name: str) -> int | None:
    value = _number(query, name)
    if value is not None and value < 0:
        raise _invalid(name, value, "must be greater than or equal to 0")
    return value


def _positive(query: dict[str, str], name: str) -> int | None:
    value = _number(query, name)
    if value is not None and value < 1:
        raise _invalid(name, value, "must be greater than 0")
    return value


def _invalid(field: str, value: object, detail: str) -> status.ApiError:
    return status.invalid("PodLogOptions", "", [validation_fields.invalid(field, value, detail)])


def _rfc3339_nano(seconds: float) -> str:
    whole = math.floor(seconds)
    nanos = min(round((seconds - whole) * 1e9), 999_999_999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"
