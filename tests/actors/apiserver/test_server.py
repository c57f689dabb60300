"""The apiserver end to end over HTTP on loopback: verbs, errors, watches, as a client sees them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from actors.apiserver.status import ApiError
from tests.actors.apiserver.conftest import Cluster

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


async def request(
    cluster: Cluster, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, cluster.url + path, data=data, headers=headers or {}) as response,
    ):
        text = await response.read()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def test_a_fresh_cluster_has_its_namespaces_and_the_kubernetes_service(cluster: Cluster) -> None:
    code, namespaces = await request(cluster, "GET", "/api/v1/namespaces")
    assert code == 200
    names = [n["metadata"]["name"] for n in namespaces["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    code, service = await request(cluster, "GET", "/api/v1/namespaces/default/services/kubernetes")
    assert code == 200 and service["spec"]["clusterIP"] == "10.96.0.1"


async def test_create_get_update_delete_a_pod(cluster: Cluster) -> None:
    code, created = await request(cluster, "POST", "/api/v1/namespaces/default/pods", POD)
    assert code == 201
    meta = created["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"]
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert created["spec"]["restartPolicy"] == "Always"  # defaulted
    code, got = await request(cluster, "GET", "/api/v1/namespaces/default/pods/web")
    assert code == 200 and got["metadata"]["resourceVersion"] == meta["resourceVersion"]
    got["metadata"]["labels"]["tier"] = "front"
    code, updated = await request(cluster, "PUT", "/api/v1/namespaces/default/pods/web", got)
    assert code == 200 and updated["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    code, deleted = await request(cluster, "DELETE", "/api/v1/namespaces/default/pods/web")
    assert code == 200 and deleted["metadata"]["name"] == "web"
    code, gone = await request(cluster, "GET", "/api/v1/namespaces/default/pods/web")
    assert (code, gone["reason"], gone["message"]) == (404, "NotFound", 'pods "web" not found')


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason", "message"),
    [
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            b"{not json",
            400,
            "BadRequest",
            None,
            id="malformed JSON",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            b"a: [unclosed",
            400,
            "BadRequest",
            None,
            id="malformed YAML",
        ),
        pytest.param(
            "GET", "/api/v1/namespaces/default/widgets", None, 404, "NotFound", None, id="unknown kind"
        ),
        pytest.param("GET", "/apis/nope/v1/things", None, 404, "NotFound", None, id="unknown group"),
        pytest.param(
            "POST",
            "/api/v1/namespaces/nowhere/pods",
            POD,
            404,
            "NotFound",
            'namespaces "nowhere" not found',
            id="missing namespace",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            {**POD, "spec": {"containers": [{"name": "c"}]}},
            422,
            "Invalid",
            'Pod "web" is invalid: spec.containers[0].image: Required value',
            id="invalid object",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "big"}, "data": {"x": "a" * (3 * 1024 * 1024 + 10)}},
            413,
            "RequestEntityTooLarge",
            None,
            id="body over 3 MiB",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            {**POD, "metadata": {"name": "web", "labels": {"app": 1}}},
            400,
            "BadRequest",
            'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct '
            "field ObjectMeta.metadata.labels of type string",
            id="a label value that is not a string",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            {**POD, "metadata": {"name": "web", "finalizers": "x"}},
            400,
            "BadRequest",
            'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct '
            "field ObjectMeta.metadata.finalizers of type []string",
            id="finalizers that are not a list",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/other/pods",
            {**POD, "metadata": {"name": "web", "namespace": "default"}},
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
            id="namespace mismatch",
        ),
    ],
)
async def test_bad_requests_get_a_status_and_store_nothing(
    cluster: Cluster,
    method: str,
    path: str,
    body: Any,
    code: int,
    reason: str,
    message: str | None,
) -> None:
    got_code, got = await request(
        cluster,
        method,
        path,
        body,
        headers={"Content-Type": "application/yaml"} if body == b"a: [unclosed" else None,
    )
    assert (got_code, got["kind"], got["reason"], got["code"]) == (code, "Status", reason, code)
    if message is not None:
        assert got["message"] == message
    _, pods = await request(cluster, "GET", "/api/v1/pods")
    _, maps = await request(cluster, "GET", "/api/v1/configmaps")
    assert pods["items"] == [] and [m for m in maps["items"] if m["metadata"]["name"] == "big"] == []


async def test_an_existing_name_is_a_conflict_and_a_stale_update_too(cluster: Cluster) -> None:
    _, first = await request(cluster, "POST", "/api/v1/namespaces/default/pods", POD)
    code, again = await request(cluster, "POST", "/api/v1/namespaces/default/pods", POD)
    assert (code, again["reason"], again["message"]) == (409, "AlreadyExists", 'pods "web" already exists')
    await request(
        cluster,
        "PATCH",
        "/api/v1/namespaces/default/pods/web",
        {"metadata": {"labels": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    code, stale = await request(cluster, "PUT", "/api/v1/namespaces/default/pods/web", first)
    assert (code, stale["reason"]) == (409, "Conflict")
    assert stale["message"] == (
        'Operation cannot be fulfilled on pods "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    current = (await request(cluster, "GET", "/api/v1/namespaces/default/pods/web"))[1]
    other = {**current, "metadata": {**current["metadata"], "uid": "not-its-uid"}}
    code, refused = await request(cluster, "PUT", "/api/v1/namespaces/default/pods/web", other)
    assert (code, refused["reason"]) == (409, "Conflict")  # upstream's UID precondition, from the body
    assert refused["message"] == (
        'Operation cannot be fulfilled on pods "web": Precondition failed: UID in precondition: not-its-uid, '
        f"UID in object meta: {current['metadata']['uid']}"
    )
    kept = (await request(cluster, "GET", "/api/v1/namespaces/default/pods/web"))[1]
    assert kept["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]  # nothing written


async def test_list_by_label_and_field_selectors_and_pages(cluster: Cluster) -> None:
    for i in range(5):
        pod = {**POD, "metadata": {"name": f"p{i}", "labels": {"app": "web" if i % 2 else "db"}}}
        await request(cluster, "POST", "/api/v1/namespaces/default/pods", pod)
    _, web = await request(cluster, "GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")
    assert [p["metadata"]["name"] for p in web["items"]] == ["p1", "p3"]
    _, one = await request(cluster, "GET", "/api/v1/pods?fieldSelector=metadata.name%3Dp4")
    assert [p["metadata"]["name"] for p in one["items"]] == ["p4"]
    _, page = await request(cluster, "GET", "/api/v1/namespaces/default/pods?limit=2")
    assert [p["metadata"]["name"] for p in page["items"]] == ["p0", "p1"]
    assert page["metadata"]["remainingItemCount"] == 3
    token = page["metadata"]["continue"]
    _, rest = await request(cluster, "GET", f"/api/v1/namespaces/default/pods?limit=10&continue={token}")
    assert [p["metadata"]["name"] for p in rest["items"]] == ["p2", "p3", "p4"]
    assert "continue" not in rest["metadata"]


async def test_a_watch_streams_changes_in_order_from_a_resource_version(cluster: Cluster) -> None:
    _, listed = await request(cluster, "GET", "/api/v1/namespaces/default/pods")
    rv = listed["metadata"]["resourceVersion"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{cluster.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"
        ) as stream,
    ):
        await request(cluster, "POST", "/api/v1/namespaces/default/pods", POD)
        await request(cluster, "DELETE", "/api/v1/namespaces/default/pods/web")
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while len(events) < 2:
                line = await stream.content.readline()
                events.append(json.loads(line))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "web"),
        ("DELETED", "web"),
    ]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) < int(
        events[1]["object"]["metadata"]["resourceVersion"]
    )


async def test_a_watch_from_a_version_the_cache_forgot_gets_a_410_error_event(tmp_path: Any) -> None:
    from tests.actors.apiserver.conftest import start_cluster

    system, cluster = await start_cluster(tmp_path, watch_cache_capacity=3)
    try:
        for i in range(6):
            await request(
                cluster, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"c{i}"}}
            )
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{cluster.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2"
            ) as stream,
        ):
            assert stream.status == 200
            event = json.loads(await stream.content.readline())
    finally:
        await system.shutdown()
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 2 (")


async def test_a_pod_on_a_live_node_terminates_gracefully_and_one_on_a_lost_node_goes_at_once(
    cluster: Cluster,
) -> None:
    await request(cluster, "POST", "/api/v1/nodes", {"metadata": {"name": "node-1"}})
    for name, node in (("kept", "node-1"), ("orphan", "node-9")):
        containers = [{"name": "c", "image": "nginx"}]
        pod = {**POD, "metadata": {"name": name}, "spec": {"containers": containers, "nodeName": node}}
        code, _ = await request(cluster, "POST", "/api/v1/namespaces/default/pods", pod)
        assert code == 201
    code, kept = await request(cluster, "DELETE", "/api/v1/namespaces/default/pods/kept")
    assert code == 200 and kept["metadata"]["deletionGracePeriodSeconds"] == 30
    code, still = await request(cluster, "GET", "/api/v1/namespaces/default/pods/kept")
    assert code == 200 and still["metadata"]["deletionTimestamp"]  # Terminating: its kubelet finishes it
    await request(cluster, "DELETE", "/api/v1/namespaces/default/pods/orphan")
    code, _ = await request(cluster, "GET", "/api/v1/namespaces/default/pods/orphan")
    assert code == 404  # no kubelet will ever finish it


async def test_a_binding_assigns_a_pod_once_and_marks_it_scheduled(cluster: Cluster) -> None:
    await cluster.apiserver.call("create", "nodes", None, {"metadata": {"name": "node-1"}})
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    await cluster.apiserver.call("create", "pods", "default", pod)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"name": "node-1"}}
    code, body = await request(cluster, "POST", "/api/v1/namespaces/default/pods/p/binding", binding)
    assert (code, body["status"]) == (201, "Success")
    bound = await cluster.apiserver.call("get", "pods", "default", "p")
    assert bound["spec"]["nodeName"] == "node-1"
    assert [c["type"] for c in bound["status"]["conditions"]] == ["PodScheduled"]
    code, body = await request(cluster, "POST", "/api/v1/namespaces/default/pods/p/binding", binding)
    assert (code, body["reason"]) == (409, "Conflict")
    assert (
        body["message"]
        == 'Operation cannot be fulfilled on pods "p": pod p is already assigned to node "node-1"'
    )


async def test_a_binding_to_a_missing_node_or_without_a_target_is_refused(cluster: Cluster) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    await cluster.apiserver.call("create", "pods", "default", pod)
    with pytest.raises(Exception, match='node "gone" not found'):
        await cluster.apiserver.call("bind", "default", "p", "gone")
    code, body = await request(cluster, "POST", "/api/v1/namespaces/default/pods/p/binding", {"target": {}})
    assert (code, body["reason"]) == (422, "Invalid")
    assert not (await cluster.apiserver.call("get", "pods", "default", "p"))["spec"].get("nodeName")


async def test_the_store_is_compacted_one_interval_behind(tmp_path: Any) -> None:
    """As kube-apiserver's compactor: every interval, the store is compacted at the revision the previous
    interval saw, so old versions go and the last interval's history stays."""
    from consensus.mvcc import errors as store_errors
    from consensus.mvcc import types
    from tests.actors.apiserver.conftest import start_cluster

    system, cluster = await start_cluster(tmp_path, time_scale=10.0, compaction_interval=5.0)
    try:
        cm = {"metadata": {"name": "c"}, "data": {"v": "0"}}
        current = await cluster.apiserver.call("create", "configmaps", "default", cm)
        old = int(current["metadata"]["resourceVersion"])
        for i in range(1, 4):
            current = await cluster.apiserver.call(
                "update", "configmaps", "default", {**current, "data": {"v": str(i)}}
            )
        member = system.ref("store-0")
        key = b"/registry/configmaps/default/c"
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            try:
                await member.call("range", types.RangeRequest(key=key, revision=old))
            except store_errors.Compacted:
                break
            assert asyncio.get_running_loop().time() < deadline, "never compacted"
            await asyncio.sleep(0.1)
        latest = await member.call("range", types.RangeRequest(key=key))
        assert latest.kvs and latest.kvs[0].mod_revision == int(current["metadata"]["resourceVersion"])
        got = await cluster.apiserver.call("get", "configmaps", "default", "c")
        assert got["data"] == {"v": "3"}
    finally:
        await system.shutdown()


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


@pytest.mark.parametrize(
    ("query", "finalizers"),
    [
        ("?propagationPolicy=Foreground", ["foregroundDeletion"]),
        ("?propagationPolicy=Orphan", ["orphan"]),
    ],
    ids=["foreground", "orphan"],
)
async def test_a_delete_asking_for_foreground_or_orphan_leaves_the_object_for_the_garbage_collector(
    cluster: Cluster, query: str, finalizers: list[str]
) -> None:
    await request(cluster, "POST", "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)
    code, deleted = await request(
        cluster, "DELETE", "/apis/apps/v1/namespaces/default/deployments/web" + query
    )
    assert code == 200 and deleted["metadata"]["finalizers"] == finalizers
    code, still = await request(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 200 and still["metadata"]["deletionTimestamp"]
    # the garbage collector takes its finalizer off when it is done: then the object goes
    patch = json.dumps({"metadata": {"finalizers": None}})
    headers = {"Content-Type": "application/merge-patch+json"}
    code, _ = await request(
        cluster, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web", patch, headers=headers
    )
    assert code == 200
    code, _ = await request(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 404


async def test_a_background_delete_removes_at_once_and_a_v1_replication_controller_orphans_by_default(
    cluster: Cluster,
) -> None:
    await request(cluster, "POST", "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)
    code, _ = await request(cluster, "DELETE", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 200
    code, _ = await request(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 404
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc"},
        "spec": {"selector": {"app": "rc"}, "template": DEPLOYMENT["spec"]["template"]},  # type: ignore[index]
    }
    rc["spec"]["template"] = {**rc["spec"]["template"], "metadata": {"labels": {"app": "rc"}}}  # type: ignore[index]
    code, _ = await request(cluster, "POST", "/api/v1/namespaces/default/replicationcontrollers", rc)
    assert code == 201
    code, deleted = await request(cluster, "DELETE", "/api/v1/namespaces/default/replicationcontrollers/rc")
    assert code == 200 and deleted["metadata"]["finalizers"] == ["orphan"]


async def test_an_unknown_propagation_policy_is_refused_and_nothing_is_deleted(cluster: Cluster) -> None:
    await request(cluster, "POST", "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)
    code, body = await request(
        cluster, "DELETE", "/apis/apps/v1/namespaces/default/deployments/web?propagationPolicy=Sometimes"
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sometimes": '
        'supported values: "Foreground", "Background", "Orphan"'
    )
    code, _ = await request(cluster, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert code == 200


async def test_the_system_priority_classes_exist_and_user_classes_are_checked(cluster: Cluster) -> None:
    code, listed = await request(cluster, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses")
    assert code == 200
    assert [(c["metadata"]["name"], c["value"]) for c in listed["items"]] == [
        ("system-cluster-critical", 2000000000),
        ("system-node-critical", 2000001000),
    ]
    too_high = {"metadata": {"name": "vip"}, "value": 1000000001}
    code, body = await request(cluster, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", too_high)
    assert (code, body["message"]) == (
        422,
        'PriorityClass.scheduling.k8s.io "vip" is invalid: value: Forbidden: maximum allowed value of a user '
        "defined priority is 1000000000",
    )
    for name in ("a", "b"):
        body = {"metadata": {"name": name}, "value": 100, "globalDefault": True}
        code, answer = await request(cluster, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body)
    assert (code, answer["message"]) == (
        403,
        'priorityclasses.scheduling.k8s.io "b" is forbidden: PriorityClass a is already marked as default. '
        "Only one default can exist",
    )
    pod = {**POD, "metadata": {"name": "prio"}, "spec": {**POD["spec"], "priorityClassName": "a"}}  # type: ignore[dict-item]
    code, created = await request(cluster, "POST", "/api/v1/namespaces/default/pods", pod)
    assert code == 201 and created["spec"]["priority"] == 100


async def test_a_claim_starts_pending_and_an_emptied_owner_list_is_dropped(cluster: Cluster) -> None:
    claim = {
        "metadata": {
            "name": "data",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1"}],
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    code, created = await request(cluster, "POST", "/api/v1/namespaces/default/persistentvolumeclaims", claim)
    assert (code, created["status"]) == (201, {"phase": "Pending"})
    release = json.dumps({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}]}})
    code, patched = await request(
        cluster,
        "PATCH",
        "/api/v1/namespaces/default/persistentvolumeclaims/data",
        release,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert code == 200 and "ownerReferences" not in patched["metadata"]  # omitempty, as upstream


async def test_an_update_from_a_lagging_cache_is_retried_from_the_store_and_nothing_is_lost(
    cluster: Cluster,
) -> None:
    api = cluster.apiserver
    await api.call("create", "configmaps", "default", {"metadata": {"name": "n"}, "data": {"count": "0"}})

    # 40 concurrent patches of one object: each starts from the watch cache, which lags the store while
    # the others write; every one must land (upstream retries an unconditional update until it does)
    async def bump(i: int) -> None:
        await api.call(
            "patch", "configmaps", "default", "n", "application/merge-patch+json", {"data": {f"k{i}": "x"}}
        )

    await asyncio.gather(*(bump(i) for i in range(40)))
    final = await api.call("get", "configmaps", "default", "n")
    assert sorted(final["data"]) == sorted(["count", *(f"k{i}" for i in range(40))])
    stale = {**final, "data": {"count": "stale"}}
    stale["metadata"] = {**final["metadata"], "resourceVersion": "1"}
    with pytest.raises(ApiError) as refused:  # a stale resourceVersion stays a conflict
        await api.call("update", "configmaps", "default", stale)
    assert refused.value.reason == "Conflict"
