"""``MetricsServer``: the metrics-server add-on, behind the apiserver's ``metrics.k8s.io/v1beta1``.

As upstream's metrics-server: every ``metric_resolution`` (15 s of cluster time) it scrapes every node's
kubelet for its resource usage (upstream reads the kubelet's ``/metrics/resource``; ours calls
``Kubelet.summary``, which reads the emulated engine's usage model) and keeps the latest point per pod and
per node. The apiserver answers ``GET /apis/metrics.k8s.io/v1beta1/...`` (``kubectl top``) from it, and
the HorizontalPodAutoscaler reads the same points.

What it serves, in upstream's shapes:

- ``PodMetrics`` ``{metadata: {name, namespace, labels, creationTimestamp}, timestamp, window, containers:
  [{name, usage: {cpu, memory}}]}``, cpu in nanocores (``"2496744n"``), memory in KiB (``"13676Ki"``);
- ``NodeMetrics`` ``{metadata: {name, labels}, timestamp, window, usage: {cpu, memory}}``;
- lists filtered by namespace and label selector; a pod or node without a point yet is 404
  ``podmetrics.metrics.k8s.io "default/web" not found`` (``nodemetrics ... "node-0" not found``).

A kubelet that does not answer keeps its previous points out of the next scrape, as upstream drops a node
it could not scrape. Time comes from the actor's clock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.apiserver import status
from actors.runtime import errors as runtime_errors
from actors.runtime.actor import Actor
from kube import labels, meta

log = logging.getLogger("kubemu.metrics_server")

METRIC_RESOLUTION = 15.0
API_VERSION = "metrics.k8s.io/v1beta1"
_CONCURRENT_SCRAPES = 64
_RETRYABLE = (runtime_errors.ActorError, status.ApiError, OSError, asyncio.TimeoutError)


def cpu_quantity(nanocores: int) -> str:
    return f"{max(0, int(nanocores))}n"


def memory_quantity(bytes_: int) -> str:
    return f"{max(0, int(bytes_)) // 1024}Ki"


class MetricsServer(Actor):
    """See the module docstring."""

    def __init__(
        self, *, apiserver: str = "apiserver-0", metric_resolution: float = METRIC_RESOLUTION
    ) -> None:
        self.apiserver = apiserver
        self.resolution = metric_resolution
        self._pods: dict[tuple[str, str], dict[str, Any]] = {}  # (namespace, name) -> PodMetrics
        self._nodes: dict[str, dict[str, Any]] = {}  # name -> NodeMetrics
        self.counters = {"scrapes": 0, "scrape_errors": 0}

    async def run(self) -> None:
        while True:
            try:
                await self.scrape()
            except _RETRYABLE as error:
                log.info("metrics-server: scrape failed: %s", error)
            await self.sleep(self.resolution)

    def stats(self) -> dict[str, Any]:
        return {"pods": len(self._pods), "nodes": len(self._nodes), **self.counters}

    async def scrape(self) -> None:
        """One round over every node's kubelet."""
        api = self.ref(self.apiserver)
        nodes = (await api.call("list_objects", "nodes", None, resource_version="0"))["items"]
        gate = asyncio.Semaphore(_CONCURRENT_SCRAPES)

        async def one(node: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
            async with gate:
                try:
                    summary = await self.ref(f"kubelet/{node['metadata']['name']}").call("summary")
                except _RETRYABLE as error:
                    self.counters["scrape_errors"] += 1
                    log.debug("metrics-server: node %s not scraped: %s", node["metadata"]["name"], error)
                    return node, None
                return node, summary

        results = await asyncio.gather(*(one(node) for node in nodes))
        pods: dict[tuple[str, str], dict[str, Any]] = {}
        node_points: dict[str, dict[str, Any]] = {}
        for node, summary in results:
            if summary is None:
                continue
            stamp = meta.now_rfc3339(float(summary["timestamp"]))
            window = f"{self.resolution:g}s"
            name = node["metadata"]["name"]
            node_points[name] = {
                "kind": "NodeMetrics",
                "apiVersion": API_VERSION,
                "metadata": {
                    "name": name,
                    "labels": dict(node["metadata"].get("labels") or {}),
                    "creationTimestamp": meta.now_rfc3339(self.clock.now()),
                },
                "timestamp": stamp,
                "window": window,
                "usage": {
                    "cpu": cpu_quantity(summary["node"]["cpu"]),
                    "memory": memory_quantity(summary["node"]["memory"]),
                },
            }
            for pod in summary["pods"]:
                pods[(pod["namespace"], pod["name"])] = {
                    "kind": "PodMetrics",
                    "apiVersion": API_VERSION,
                    "metadata": {
                        "name": pod["name"],
                        "namespace": pod["namespace"],
                        "labels": dict(pod.get("labels") or {}),
                        "creationTimestamp": meta.now_rfc3339(self.clock.now()),
                    },
                    "timestamp": stamp,
                    "window": window,
                    "containers": [
                        {
                            "name": c["name"],
                            "usage": {"cpu": cpu_quantity(c["cpu"]), "memory": memory_quantity(c["memory"])},
                        }
                        for c in pod["containers"]
                    ],
                }
        self._pods, self._nodes = pods, node_points
        self.counters["scrapes"] += 1

    # -- the metrics.k8s.io API ----------------------------------------------------------------------------

    async def get_metrics(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One PodMetrics (``resource`` "pods") or NodeMetrics ("nodes"); 404 as metrics-server words it."""
        if resource == "pods":
            found = self._pods.get((namespace or "", name))
            if found is None:
                raise status.not_found("podmetrics.metrics.k8s.io", f"{namespace}/{name}")
            return found
        found = self._nodes.get(name)
        if found is None:
            raise status.not_found("nodemetrics.metrics.k8s.io", name)
        return found

    async def list_metrics(
        self, resource: str, namespace: str | None = None, *, label_selector: str = ""
    ) -> dict[str, Any]:
        """PodMetricsList or NodeMetricsList, by namespace (pods) and label selector."""
        try:
            selector = labels.parse(label_selector) if label_selector else labels.everything()
        except Exception as error:  # a malformed selector is the caller's mistake: 400 as upstream
            raise status.bad_request(str(error)) from None
        if resource == "pods":
            items = [
                m
                for (ns, _), m in sorted(self._pods.items())
                if (namespace is None or ns == namespace) and selector.matches(m["metadata"]["labels"])
            ]
            kind = "PodMetricsList"
        else:
            items = [m for _, m in sorted(self._nodes.items()) if selector.matches(m["metadata"]["labels"])]
            kind = "NodeMetricsList"
        return {"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items}
