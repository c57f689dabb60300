"""The controller-manager's pod metrics: polled from metrics-server every 15 s of cluster time, and each new
sample reaches the controllers that read ``podmetrics`` (the HPA), even though PodMetrics carry no
resourceVersion. The cluster clock runs 100x."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from typing import Any

from actors.controllers import framework
from actors.controllers.framework import Cache, Context, Obj, Result
from actors.controllers.manager import ControllerManager
from actors.runtime.actor import Actor
from tests.actors.apiserver.conftest import eventually, start_cluster


class FakeMetricsServer(Actor):
    """Answers ``list_metrics`` with one pod whose cpu sample changes on every call."""

    def __init__(self) -> None:
        self.calls = 0

    async def list_metrics(self, resource: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        self.calls += 1
        item = {
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "timestamp": f"2026-01-01T00:00:{self.calls:02d}Z",
            "window": "15s",
            "containers": [{"name": "c", "usage": {"cpu": f"{self.calls}m", "memory": "8Mi"}}],
        }
        return {"kind": "PodMetricsList", "items": [item]}


class Reader:
    """Records the cpu of ``web`` each time its metrics change."""

    name = "reader"
    resource = "podmetrics"
    kind = "PodMetrics"
    watches = ("podmetrics",)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def keys_for(self, resource: str, obj: Obj, old: Obj | None, cache: Cache) -> Iterable[str]:
        return [framework.key_of(obj)]

    def reconcile(self, key: str, cache: Cache, ctx: Context) -> Result:
        found = cache.get("podmetrics", "default", "web")
        if found is not None:
            self.seen.append(found["containers"][0]["usage"]["cpu"])
        return Result()


async def test_each_new_metrics_sample_reaches_the_controllers(tmp_path: pathlib.Path) -> None:
    system, _ = await start_cluster(tmp_path, time_scale=100.0)
    try:
        await system.spawn("metrics-server", FakeMetricsServer)
        reader = Reader()
        await system.spawn(
            "kube-controller-manager",
            ControllerManager,
            kwargs={"controllers": [reader], "leader_elect": False},
        )

        async def three_samples() -> list[str] | None:
            return reader.seen if len(set(reader.seen)) >= 3 else None

        seen = await eventually(three_samples)
        assert seen[:3] == ["1m", "2m", "3m"]
    finally:
        await system.shutdown()
