"""Deleting a namespace: the namespace controller empties it, reports what remains in upstream's conditions,
and finalizes it; without the controller-manager the namespace stays Terminating. A real apiserver and
store; the cluster clock runs 50x."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.apiserver import status
from actors.controllers import namespace
from actors.controllers.manager import ControllerManager
from tests.actors.apiserver.conftest import Cluster, eventually, start_cluster

SCALE = 50.0


@pytest.fixture
async def cluster(tmp_path: pathlib.Path) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path, time_scale=SCALE)
    try:
        yield running
    finally:
        await system.shutdown()


async def _fill(cluster: Cluster, name: str) -> None:
    api = cluster.apiserver
    await api.call("create", "namespaces", None, {"metadata": {"name": name}})
    await api.call("create", "configmaps", name, {"metadata": {"name": "settings"}, "data": {"a": "b"}})
    await api.call("create", "secrets", name, {"metadata": {"name": "token"}})
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }
    await api.call("create", "deployments.apps", name, deployment)


async def _gone(cluster: Cluster, name: str) -> bool:
    try:
        await cluster.apiserver.call("get", "namespaces", None, name)
    except status.ApiError as error:
        return error.code == 404
    return False


async def test_a_deleted_namespace_is_emptied_then_finalized_by_the_controller(cluster: Cluster) -> None:
    await _fill(cluster, "team")
    held = {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}
    await cluster.apiserver.call("create", "configmaps", "team", held)
    await cluster.system.spawn(
        "kube-controller-manager", ControllerManager, kwargs={"controllers": ["namespace"]}
    )
    await cluster.apiserver.call("delete", "namespaces", None, "team")
    ns = await cluster.apiserver.call("get", "namespaces", None, "team")
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(status.ApiError, match="because it is being terminated"):
        await cluster.apiserver.call("create", "configmaps", "team", {"metadata": {"name": "late"}})

    async def reported() -> dict[str, Any] | None:
        found = await cluster.apiserver.call("get", "namespaces", None, "team")
        by_type = {c["type"]: c for c in (found.get("status") or {}).get("conditions") or []}
        return by_type if by_type.get(namespace.CONTENT_REMAINING, {}).get("status") == "True" else None

    conditions = await eventually(reported)
    assert conditions[namespace.CONTENT_REMAINING]["reason"] == "SomeResourcesRemain"
    assert conditions[namespace.CONTENT_REMAINING]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances"
    )
    assert conditions[namespace.FINALIZERS_REMAINING]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"
    )
    assert conditions[namespace.CONTENT_FAILURE]["status"] == "False"
    left = await cluster.apiserver.call("list_objects", "configmaps", "team")
    assert [c["metadata"]["name"] for c in left["items"]] == ["held"]  # the rest is gone already
    assert not (await cluster.apiserver.call("list_objects", "deployments", "team"))["items"]
    assert not await _gone(cluster, "team")  # the finalizer holds the content, the content the namespace

    cm = left["items"][0]
    await cluster.apiserver.call(
        "update", "configmaps", "team", {**cm, "metadata": {**cm["metadata"], "finalizers": []}}
    )
    await eventually(lambda: _gone(cluster, "team"))  # looked at again after the estimate (15 s = 0.3 s here)


async def test_without_the_controller_a_deleted_namespace_stays_terminating(cluster: Cluster) -> None:
    await _fill(cluster, "stuck")
    await cluster.apiserver.call("delete", "namespaces", None, "stuck")
    await cluster.system.clock.sleep(60.0)  # a minute of cluster time
    ns = await cluster.apiserver.call("get", "namespaces", None, "stuck")
    assert ns["status"]["phase"] == "Terminating"
    assert (await cluster.apiserver.call("list_objects", "configmaps", "stuck"))["items"]


async def test_only_the_finalize_subresource_changes_a_namespaces_finalizers(cluster: Cluster) -> None:
    api = cluster.apiserver
    await api.call("create", "namespaces", None, {"metadata": {"name": "kept"}})
    ns = await api.call("get", "namespaces", None, "kept")
    updated = await api.call("update", "namespaces", None, {**ns, "spec": {"finalizers": []}})
    assert updated["spec"]["finalizers"] == ["kubernetes"]  # a main update leaves them, as upstream
    finalized = await api.call(
        "update", "namespaces", None, {**updated, "spec": {"finalizers": []}}, subresource="finalize"
    )
    assert finalized["spec"].get("finalizers") in (None, [])
    await api.call("delete", "namespaces", None, "kept")
    assert await _gone(cluster, "kept")  # nothing holds it: deleted at once


async def test_a_finalize_whose_finalizers_are_not_a_list_of_names_is_refused_and_keeps_them(
    cluster: Cluster,
) -> None:
    api = cluster.apiserver
    await api.call("create", "namespaces", None, {"metadata": {"name": "guarded"}})
    ns = await api.call("get", "namespaces", None, "guarded")
    for bad in ("kubernetes", [1], {"a": "b"}):
        with pytest.raises(status.ApiError) as refused:
            await api.call(
                "update", "namespaces", None, {**ns, "spec": {"finalizers": bad}}, subresource="finalize"
            )
        assert refused.value.code == 400 and "NamespaceSpec.spec.finalizers" in str(refused.value)
    kept = await api.call("get", "namespaces", None, "guarded")
    assert kept["spec"]["finalizers"] == ["kubernetes"]
    assert kept["metadata"]["resourceVersion"] == ns["metadata"]["resourceVersion"]


def test_conditions_keep_their_transition_time_while_their_status_holds() -> None:
    first = namespace.conditions(namespace.Remaining(resources={"pods.": 2}), [], "2026-01-01T00:00:00Z")
    again = namespace.conditions(namespace.Remaining(resources={"pods.": 1}), first, "2026-01-01T00:00:10Z")
    remaining = {c["type"]: c for c in again}[namespace.CONTENT_REMAINING]
    assert remaining["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert remaining["message"] == "Some resources are remaining: pods. has 1 resource instances"
    done = namespace.conditions(namespace.Remaining(), again, "2026-01-01T00:00:20Z")
    cleared = {c["type"]: c for c in done}[namespace.CONTENT_REMAINING]
    assert (cleared["status"], cleared["reason"], cleared["lastTransitionTime"]) == (
        "False",
        "ContentRemoved",
        "2026-01-01T00:00:20Z",
    )
