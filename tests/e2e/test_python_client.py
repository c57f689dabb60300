"""The official Python clients, unchanged, against a secure in-process cluster.

``kubernetes`` (sync, typed models, ``watch``, the dynamic client) and ``kubernetes_asyncio`` talk HTTPS to
``apiserver-0`` with the admin client certificate and the cluster CA, as they would to a real cluster. The
apiserver runs on the test's event loop, so every call of the blocking sync client goes through
``asyncio.to_thread``: a whole scenario runs in a worker thread while the loop serves it.

One cluster serves the whole module; each test works in a namespace of its own. Each test says what
upstream does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import pathlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any, TypeVar, cast

import kubernetes.client as k8s
import kubernetes_asyncio.client as k8s_async
import kubernetes_asyncio.config as k8s_async_config
import kubernetes_asyncio.watch as k8s_async_watch
import pytest
import pytest_asyncio
import yaml
from kubernetes import config, dynamic, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import exceptions as dynamic_errors

from tests.actors.apiserver.conftest import Cluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)
DEFAULT_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]

T = TypeVar("T")
_namespaces = itertools.count()


# -- fixtures --------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    system, running = await start_cluster(tmp_path_factory.mktemp("cluster"), secure=True)
    try:
        yield running
    finally:
        await system.shutdown()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[k8s.ApiClient]:
    """A sync client configured in code: the admin certificate, the cluster CA verified."""
    assert cluster.pki is not None
    configuration = k8s.Configuration(host=cluster.url)
    configuration.ssl_ca_cert = str(cluster.pki.ca.cert)
    configuration.cert_file = str(cluster.pki.admin.cert)
    configuration.key_file = str(cluster.pki.admin.key)
    client = k8s.ApiClient(configuration)
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]  # before the cluster stops: no connection is cut


@pytest.fixture
def core(api: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)


@pytest.fixture
def apps(api: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api)


@pytest.fixture
def kubeconfig(cluster: Cluster, tmp_path: pathlib.Path) -> pathlib.Path:
    """A kubeconfig as ``kubectl config`` writes it, pointing at the admin certificate and the CA."""
    assert cluster.pki is not None
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubemu",
                "cluster": {"server": cluster.url, "certificate-authority": str(cluster.pki.ca.cert)},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": str(cluster.pki.admin.cert),
                    "client-key": str(cluster.pki.admin.key),
                },
            }
        ],
        "contexts": [{"name": "kubemu", "context": {"cluster": "kubemu", "user": "admin"}}],
        "current-context": "kubemu",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest_asyncio.fixture(loop_scope="module")
async def namespace(core: k8s.CoreV1Api) -> str:
    """A fresh namespace for one test, so tests sharing the cluster never see each other's objects (this
    module's own: the ``namespace`` of ``tests/e2e/conftest.py`` needs a ``kubemu up``)."""
    name = f"e2e-{next(_namespaces)}"
    await asyncio.to_thread(core.create_namespace, k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


# -- helpers ---------------------------------------------------------------------------------------------


def present(value: T | None) -> T:
    """``value``, which the server must have set (the typed models make every field optional)."""
    assert value is not None
    return value


def pod(name: str, **labels: str) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, labels=labels or None),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="web", image="nginx")]),
    )


def deployment(name: str) -> k8s.V1Deployment:
    labels = {"app": name}
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name, labels=labels),
        spec=k8s.V1DeploymentSpec(
            replicas=2,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="web", image="nginx")]),
            ),
        ),
    )


def names(items: list[Any]) -> list[str]:
    return [present(item.metadata).name for item in items]


def watch_events(
    list_call: Callable[..., Any], *args: Any, **kwargs: Any
) -> Generator[dict[str, Any], None, None]:
    """``watch.Watch().stream(list_call, ...)``, which upstream leaves untyped: events as dicts."""
    stream = watch.Watch().stream(list_call, *args, **kwargs)  # type: ignore[no-untyped-call]
    return cast(Generator[dict[str, Any], None, None], stream)


def api_failure(error: ApiException) -> tuple[int, str, dict[str, Any]]:
    """(HTTP status, HTTP reason, the ``Status`` body) of a failed call."""
    return error.status, error.reason, json.loads(present(error.body))


# -- pods ------------------------------------------------------------------------------------------------


async def test_a_pod_is_created_read_patched_replaced_and_deleted(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    def scenario() -> None:
        created = core.create_namespaced_pod(namespace, pod("web", app="web"))
        meta = present(created.metadata)
        assert isinstance(created, k8s.V1Pod)
        assert (meta.namespace, meta.labels) == (namespace, {"app": "web"})
        assert meta.uid and meta.resource_version and meta.creation_timestamp is not None
        assert present(created.status).phase == "Pending"
        assert present(created.spec).restart_policy == "Always"  # defaulted by the server

        read = core.read_namespaced_pod("web", namespace)
        assert present(read.metadata).resource_version == meta.resource_version

        patched = core.patch_namespaced_pod("web", namespace, {"metadata": {"labels": {"tier": "front"}}})
        assert present(patched.metadata).labels == {"app": "web", "tier": "front"}  # strategic merge
        patched = core.patch_namespaced_pod(
            "web", namespace, [{"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}}]
        )  # a list body is a JSON patch
        assert present(patched.metadata).annotations == {"note": "hi"}

        present(patched.metadata).labels = {"app": "web", "tier": "back"}
        replaced = core.replace_namespaced_pod("web", namespace, patched)
        assert present(replaced.metadata).labels == {"app": "web", "tier": "back"}
        assert int(present(present(replaced.metadata).resource_version)) > int(
            present(present(patched.metadata).resource_version)
        )

        deleted = core.delete_namespaced_pod("web", namespace)
        assert isinstance(deleted, k8s.V1Pod)  # pods answer a delete with the pod (ReturnDeletedObject)
        assert present(deleted.metadata).uid == meta.uid
        assert core.list_namespaced_pod(namespace).items == []

    await asyncio.to_thread(scenario)


LABELS = {
    "p0": {"app": "web", "tier": "front"},
    "p1": {"app": "db"},
    "p2": {"app": "web"},
    "p3": {"app": "db", "tier": "back"},
    "p4": {"app": "cache"},
}


@pytest.mark.parametrize(
    ("label_selector", "field_selector", "expected"),
    [
        pytest.param("app=web", "", ["p0", "p2"], id="label equality"),
        pytest.param("app in (db,cache),!tier", "", ["p1", "p4"], id="label set and absence"),
        pytest.param("tier", "", ["p0", "p3"], id="label existence"),
        pytest.param("", "metadata.name=p3", ["p3"], id="field name"),
        pytest.param(
            "", "status.phase=Pending,metadata.name!=p3", ["p0", "p1", "p2", "p4"], id="field phase and not"
        ),
        pytest.param("", "spec.nodeName=", ["p0", "p1", "p2", "p3", "p4"], id="field unscheduled"),
        pytest.param("app=web", "metadata.name!=p0", ["p2"], id="label and field"),
    ],
)
async def test_pods_are_listed_by_label_and_field_selectors(
    core: k8s.CoreV1Api, namespace: str, label_selector: str, field_selector: str, expected: list[str]
) -> None:
    def scenario() -> list[str]:
        for name, labels in LABELS.items():
            core.create_namespaced_pod(namespace, pod(name, **labels))
        listed = core.list_namespaced_pod(
            namespace, label_selector=label_selector, field_selector=field_selector
        )
        return names(listed.items)

    assert await asyncio.to_thread(scenario) == expected


async def test_pods_are_listed_in_pages_with_limit_and_continue(core: k8s.CoreV1Api, namespace: str) -> None:
    def scenario() -> None:
        for name in LABELS:
            core.create_namespaced_pod(namespace, pod(name))
        pages: list[tuple[list[str], int | None]] = []
        versions = set()
        token: str | None = None
        while True:
            page = core.list_namespaced_pod(namespace, limit=2, _continue=token)
            meta = present(page.metadata)
            pages.append((names(page.items), meta.remaining_item_count))
            versions.add(meta.resource_version)
            token = meta.var_continue
            if not token:
                break
        assert pages == [(["p0", "p1"], 3), (["p2", "p3"], 1), (["p4"], None)]
        assert len(versions) == 1  # every page is a view of the same snapshot

    await asyncio.to_thread(scenario)


# -- configmaps, services --------------------------------------------------------------------------------


async def test_a_configmap_is_created_patched_replaced_and_deleted(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    def scenario() -> None:
        body = k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name="settings", labels={"app": "web"}), data={"color": "blue"}
        )
        created = core.create_namespaced_config_map(namespace, body)
        assert created.data == {"color": "blue"}
        patched = core.patch_namespaced_config_map("settings", namespace, {"data": {"size": "L"}})
        assert patched.data == {"color": "blue", "size": "L"}
        patched.data = {"only": "this"}
        replaced = core.replace_namespaced_config_map("settings", namespace, patched)
        assert replaced.data == {"only": "this"}
        listed = core.list_namespaced_config_map(namespace, label_selector="app=web")
        assert names(listed.items) == ["settings"]
        core.delete_namespaced_config_map("settings", namespace)
        with pytest.raises(ApiException) as caught:
            core.read_namespaced_config_map("settings", namespace)
        assert caught.value.status == 404

    await asyncio.to_thread(scenario)


async def test_deleting_a_configmap_or_a_deployment_answers_a_success_status(
    core: k8s.CoreV1Api, apps: k8s.AppsV1Api, namespace: str
) -> None:
    def scenario() -> None:
        config_map = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="settings"), data={"k": "v"})
        config_map_uid = present(core.create_namespaced_config_map(namespace, config_map).metadata).uid
        deployment_uid = present(apps.create_namespaced_deployment(namespace, deployment("web")).metadata).uid
        # the client types these answers ``object``: the JSON as a dict
        answers = [
            core.delete_namespaced_config_map("settings", namespace),
            apps.delete_namespaced_deployment("web", namespace),
        ]
        assert answers == [
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": "settings", "kind": "configmaps", "uid": config_map_uid},
            },
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": "web", "group": "apps", "kind": "deployments", "uid": deployment_uid},
            },
        ]

    await asyncio.to_thread(scenario)


async def test_a_nodeport_service_gets_a_cluster_ip_and_node_ports(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    def service(name: str, *ports: k8s.V1ServicePort, kind: str = "NodePort") -> k8s.V1Service:
        return k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name=name),
            spec=k8s.V1ServiceSpec(type=kind, selector={"app": "web"}, ports=list(ports)),
        )

    def scenario() -> None:
        created = core.create_namespaced_service(
            namespace,
            service(
                "web",
                k8s.V1ServicePort(name="http", port=80),
                k8s.V1ServicePort(name="https", port=443, node_port=30443),
            ),
        )
        spec = present(created.spec)
        assert ipaddress.ip_address(present(spec.cluster_ip)) in SERVICE_CIDR
        assert spec.cluster_ips == [spec.cluster_ip]
        http, https = present(spec.ports)
        assert present(http.node_port) in NODE_PORTS
        assert https.node_port == 30443  # the one asked for is kept
        assert http.target_port == 80  # defaulted to the port

        plain = core.create_namespaced_service(
            namespace, service("db", k8s.V1ServicePort(port=5432), kind="ClusterIP")
        )
        plain_spec = present(plain.spec)
        assert ipaddress.ip_address(present(plain_spec.cluster_ip)) in SERVICE_CIDR
        assert plain_spec.cluster_ip != spec.cluster_ip
        assert [p.node_port for p in present(plain_spec.ports)] == [None]

        with pytest.raises(ApiException) as caught:
            core.create_namespaced_service(
                namespace, service("twin", k8s.V1ServicePort(port=443, node_port=30443))
            )
        code, _, body = api_failure(caught.value)
        assert (code, body["reason"]) == (422, "Invalid")
        assert body["details"]["causes"] == [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 30443: provided port is already allocated",
                "field": "spec.ports[0].nodePort",
            }
        ]

        core.delete_namespaced_service("web", namespace)  # gives its node ports back
        again = core.create_namespaced_service(
            namespace, service("twin", k8s.V1ServicePort(port=443, node_port=30443))
        )
        assert [p.node_port for p in present(present(again.spec).ports)] == [30443]

    await asyncio.to_thread(scenario)


# -- deployments -----------------------------------------------------------------------------------------


async def test_a_deployment_is_scaled_through_its_scale_subresource(
    apps: k8s.AppsV1Api, namespace: str
) -> None:
    def scenario() -> None:
        created = apps.create_namespaced_deployment(namespace, deployment("web"))
        spec = present(created.spec)
        assert (spec.replicas, spec.revision_history_limit, spec.progress_deadline_seconds) == (2, 10, 600)
        strategy = present(spec.strategy)
        assert strategy.type == "RollingUpdate"
        rolling = present(strategy.rolling_update)
        assert (rolling.max_surge, rolling.max_unavailable) == ("25%", "25%")

        scaled = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 5}})
        assert isinstance(scaled, k8s.V1Scale)
        assert (scaled.api_version, scaled.kind) == ("autoscaling/v1", "Scale")
        assert present(scaled.spec).replicas == 5

        scale = apps.read_namespaced_deployment_scale("web", namespace)
        assert present(scale.spec).replicas == 5
        assert present(scale.status).selector == "app=web"
        assert present(apps.read_namespaced_deployment("web", namespace).spec).replicas == 5

        present(scale.spec).replicas = 1
        replaced = apps.replace_namespaced_deployment_scale("web", namespace, scale)
        assert present(replaced.spec).replicas == 1
        assert present(apps.read_namespaced_deployment("web", namespace).spec).replicas == 1

        listed = apps.list_namespaced_deployment(namespace, label_selector="app=web")
        assert names(listed.items) == ["web"]

    await asyncio.to_thread(scenario)


# -- errors ----------------------------------------------------------------------------------------------


def _read_a_missing_pod(core: k8s.CoreV1Api, namespace: str) -> None:
    core.read_namespaced_pod("missing", namespace)


def _create_a_pod_twice(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("twin"))
    core.create_namespaced_pod(namespace, pod("twin"))


def _replace_with_a_stale_resource_version(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, pod("stale"))
    fresh = core.read_namespaced_pod("stale", namespace)
    present(fresh.metadata).labels = {"writer": "first"}
    core.replace_namespaced_pod("stale", namespace, fresh)
    present(created.metadata).labels = {"writer": "second"}
    core.replace_namespaced_pod("stale", namespace, created)  # carries the resourceVersion of before


def _create_an_invalid_pod(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(
        namespace, k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="Not_Valid"), spec=k8s.V1PodSpec(containers=[]))
    )


@pytest.mark.parametrize(
    ("call", "code", "http_reason", "reason", "message", "causes"),
    [
        pytest.param(
            _read_a_missing_pod, 404, "Not Found", "NotFound", 'pods "missing" not found', [], id="NotFound"
        ),
        pytest.param(
            _create_a_pod_twice,
            409,
            "Conflict",
            "AlreadyExists",
            'pods "twin" already exists',
            [],
            id="AlreadyExists",
        ),
        pytest.param(
            _replace_with_a_stale_resource_version,
            409,
            "Conflict",
            "Conflict",
            'Operation cannot be fulfilled on pods "stale": the object has been modified; '
            "please apply your changes to the latest version and try again",
            [],
            id="Conflict",
        ),
        pytest.param(
            _create_an_invalid_pod,
            422,
            "Unprocessable Entity",
            "Invalid",
            None,
            [("FieldValueInvalid", "metadata.name"), ("FieldValueRequired", "spec.containers")],
            id="Invalid",
        ),
    ],
)
async def test_a_failed_call_raises_api_exception_with_the_status(
    core: k8s.CoreV1Api,
    namespace: str,
    call: Callable[[k8s.CoreV1Api, str], None],
    code: int,
    http_reason: str,
    reason: str,
    message: str | None,
    causes: list[tuple[str, str]],
) -> None:
    with pytest.raises(ApiException) as caught:
        await asyncio.to_thread(call, core, namespace)
    status, phrase, body = api_failure(caught.value)
    assert (status, phrase) == (code, http_reason)
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", reason, code)
    if message is not None:
        assert body["message"] == message
    assert [(c["reason"], c["field"]) for c in body["details"].get("causes", [])] == causes


# -- watches ---------------------------------------------------------------------------------------------


async def test_a_watch_from_a_resource_version_replays_added_modified_deleted(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    def scenario() -> None:
        start = present(core.list_namespaced_pod(namespace).metadata).resource_version
        core.create_namespaced_pod(namespace, pod("watched", step="one"))
        core.patch_namespaced_pod("watched", namespace, {"metadata": {"labels": {"step": "two"}}})
        core.delete_namespaced_pod("watched", namespace)
        events = list(
            watch_events(core.list_namespaced_pod, namespace, resource_version=start, timeout_seconds=1)
        )
        seen = [(e["type"], e["object"].metadata.name, e["object"].metadata.labels) for e in events]
        assert seen == [
            ("ADDED", "watched", {"step": "one"}),
            ("MODIFIED", "watched", {"step": "two"}),
            ("DELETED", "watched", {"step": "two"}),
        ]
        versions = [int(e["object"].metadata.resource_version) for e in events]
        assert versions == sorted(versions) and len(set(versions)) == 3
        assert all(isinstance(e["object"], k8s.V1Pod) for e in events)

    await asyncio.to_thread(scenario)


async def test_a_watch_sees_changes_made_while_it_runs(
    cluster: Cluster, core: k8s.CoreV1Api, namespace: str
) -> None:
    start = present((await asyncio.to_thread(core.list_namespaced_pod, namespace)).metadata).resource_version
    watching = (await cluster.apiserver.call("info"))["watches"]
    seen: list[tuple[str, str]] = []

    def follow() -> None:
        events = watch_events(core.list_namespaced_pod, namespace, resource_version=start, timeout_seconds=30)
        for event in events:
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                break
        events.close()  # ends the stream, as Watch.stop() does

    def change() -> None:
        core.create_namespaced_pod(namespace, pod("live"))
        core.patch_namespaced_pod("live", namespace, {"metadata": {"labels": {"seen": "yes"}}})
        core.delete_namespaced_pod("live", namespace)

    async with asyncio.timeout(30):
        follower = asyncio.create_task(asyncio.to_thread(follow))
        while (await cluster.apiserver.call("info"))["watches"] <= watching:  # the watch is open
            await asyncio.sleep(0.01)
        await asyncio.to_thread(change)
        await follower
    assert seen == [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]


async def test_a_watch_the_server_ends_leaves_its_connection_serving(
    core: k8s.CoreV1Api, namespace: str
) -> None:
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(str(context.get("exception"))))

    def scenario() -> None:
        list(watch_events(core.list_namespaced_pod, namespace, timeout_seconds=1))
        core.create_namespaced_pod(namespace, pod("after"))

    try:
        await asyncio.to_thread(scenario)
        await asyncio.to_thread(core.read_namespaced_pod, "after", namespace)
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


# -- the dynamic client, kubeconfig ----------------------------------------------------------------------


async def test_the_dynamic_client_creates_gets_and_deletes_a_deployment(
    api: k8s.ApiClient, namespace: str
) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dyn", "labels": {"app": "dyn"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "dyn"}},
            "template": {
                "metadata": {"labels": {"app": "dyn"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }

    def scenario() -> None:
        client = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
        deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
        assert (deployments.group, deployments.name, deployments.namespaced) == ("apps", "deployments", True)
        created = deployments.create(body=manifest, namespace=namespace)
        assert (created.kind, created.metadata.name, created.spec.replicas) == ("Deployment", "dyn", 3)
        got = deployments.get(name="dyn", namespace=namespace)
        assert got.metadata.uid == created.metadata.uid
        assert got.spec.strategy.type == "RollingUpdate"
        listed = deployments.get(namespace=namespace, label_selector="app=dyn")
        assert [item.metadata.name for item in listed.items] == ["dyn"]
        deployments.delete(name="dyn", namespace=namespace)
        with pytest.raises(dynamic_errors.NotFoundError):
            deployments.get(name="dyn", namespace=namespace)

    await asyncio.to_thread(scenario)


async def test_a_kubeconfig_with_the_admin_certificate_reaches_the_cluster(kubeconfig: pathlib.Path) -> None:
    def scenario() -> list[str]:
        client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        try:
            return names(k8s.CoreV1Api(client).list_namespace().items)
        finally:
            client.close()

    listed = await asyncio.to_thread(scenario)
    assert set(DEFAULT_NAMESPACES) <= set(listed)


# -- kubernetes_asyncio ----------------------------------------------------------------------------------


def async_pod(name: str, **labels: str) -> k8s_async.V1Pod:
    """The pod of ``pod`` as a ``kubernetes_asyncio`` model."""
    metadata = k8s_async.V1ObjectMeta(name=name, labels=labels or None)
    container = k8s_async.V1Container(name="web", image="nginx")
    spec = k8s_async.V1PodSpec(containers=[container])
    return k8s_async.V1Pod(metadata=metadata, spec=spec)


async def test_the_asyncio_client_creates_and_lists_pods(kubeconfig: pathlib.Path, namespace: str) -> None:
    async with await k8s_async_config.new_client_from_config(config_file=str(kubeconfig)) as client:
        core = k8s_async.CoreV1Api(client)
        for name, labels in LABELS.items():
            created = await core.create_namespaced_pod(namespace, async_pod(name, **labels))
            assert created.metadata.name == name and created.status.phase == "Pending"
        web = await core.list_namespaced_pod(namespace, label_selector="app=web")
        assert [p.metadata.name for p in web.items] == ["p0", "p2"]
        one = await core.list_namespaced_pod(namespace, field_selector="metadata.name=p3")
        assert [p.metadata.name for p in one.items] == ["p3"]
        first = await core.list_namespaced_pod(namespace, limit=3)
        rest = await core.list_namespaced_pod(namespace, limit=3, _continue=first.metadata._continue)
        assert [p.metadata.name for p in first.items + rest.items] == list(LABELS)


async def test_the_asyncio_client_watches_pods(kubeconfig: pathlib.Path, namespace: str) -> None:
    async with await k8s_async_config.new_client_from_config(config_file=str(kubeconfig)) as client:
        core = k8s_async.CoreV1Api(client)
        start = (await core.list_namespaced_pod(namespace)).metadata.resource_version
        await core.create_namespaced_pod(namespace, async_pod("watched", step="one"))
        await core.patch_namespaced_pod("watched", namespace, {"metadata": {"labels": {"step": "two"}}})
        await core.delete_namespaced_pod("watched", namespace)
        stream = k8s_async_watch.Watch()
        seen = []
        async with stream.stream(
            core.list_namespaced_pod, namespace, resource_version=start, timeout_seconds=10
        ) as events:
            async for event in events:
                seen.append((event["type"], event["object"].metadata.labels))
                if event["type"] == "DELETED":
                    stream.stop()
    assert seen == [("ADDED", {"step": "one"}), ("MODIFIED", {"step": "two"}), ("DELETED", {"step": "two"})]
