"""The endpoints controller, pure: what a Service's Endpoints holds (ready and not-ready pods, resolved
ports, headless hostnames), when it is written, and which events bring a Service back to the queue."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest

from actors.controllers import endpoints, framework, subsets
from actors.controllers.endpoints import EndpointsController
from actors.controllers.framework import Context, DictCache, Obj
from actors.controllers.informer import Informer, InformerCache
from kube import meta

CTX = Context(now=1_700_000_000.0)


def service(name: str = "web", *, selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": {"team": "a"},
            "creationTimestamp": "2023-11-14T22:00:00Z",
        },
        "spec": {
            "selector": {"app": "web"} if selector is None else selector,
            "clusterIP": "10.96.0.10",
            "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
    }
    return body


def pod(
    name: str,
    ip: str | None = "10.0.0.1",
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    ports: list[Obj] | None = None,
    phase: str = "Running",
    **spec: Any,
) -> Obj:
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status |= {"podIP": ip, "podIPs": [{"ip": ip}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {"app": "web"},
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}], **spec},
        "status": status,
    }


def address(name: str, ip: str, **extra: Any) -> Obj:
    return {
        "ip": ip,
        "nodeName": "n1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"},
        **extra,
    }


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}


def sync(svc: Obj | None, *objects: Obj, endpoints_obj: Obj | None = None) -> list[framework.Action]:
    cache = DictCache(
        {
            "pods": objects,
            "services": [svc] if svc else [],
            "endpoints": [endpoints_obj] if endpoints_obj else [],
        }
    )
    return EndpointsController().reconcile("default/web", cache, CTX).actions


def created(svc: Obj, *objects: Obj) -> Obj:
    [action] = sync(svc, *objects)
    assert isinstance(action, framework.Create) and action.resource == "endpoints"
    return action.body


def test_ready_and_not_ready_pods_are_split() -> None:
    body = created(service(), pod("a", "10.0.0.2"), pod("b", "10.0.0.1"), pod("c", "10.0.0.3", ready=False))
    assert body["metadata"]["name"] == "web" and body["metadata"]["namespace"] == "default"
    assert body["metadata"]["labels"] == {"team": "a"}
    assert body["subsets"] == [
        {
            "addresses": [address("b", "10.0.0.1"), address("a", "10.0.0.2")],
            "notReadyAddresses": [address("c", "10.0.0.3")],
            "ports": [HTTP],
        }
    ]


@pytest.mark.parametrize(
    ("member", "publish", "expected"),
    [
        pytest.param(pod("a", None), False, None, id="no-ip"),
        pytest.param(pod("a", phase="Succeeded"), False, None, id="succeeded"),
        pytest.param(pod("a", phase="Failed", ready=False), True, None, id="failed"),
        pytest.param(pod("a", labels={"app": "other"}), False, None, id="not-selected"),
        pytest.param(pod("a", ready=False), True, "addresses", id="publish-not-ready"),
    ],
)
def test_which_pods_are_endpoints(member: Obj, publish: bool, expected: str | None) -> None:
    body = created(service(publishNotReadyAddresses=publish), member)
    assert [list(s) for s in body.get("subsets", [])] == ([[expected, "ports"]] if expected else [])


def test_terminating_pod_is_left_out_unless_published() -> None:
    terminating = pod("a")
    terminating["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z"
    assert "subsets" not in created(service(), terminating)
    assert created(service(publishNotReadyAddresses=True), terminating)["subsets"][0]["addresses"]


def test_named_target_port_is_resolved_per_pod() -> None:
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    body = created(
        svc,
        pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}]),
        pod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}]),
        pod(
            "c", "10.0.0.3", ports=[{"name": "web", "containerPort": 9090, "protocol": "UDP"}]
        ),  # wrong protocol
    )
    assert sorted((s["ports"][0]["port"], [a["ip"] for a in s["addresses"]]) for s in body["subsets"]) == [
        (8080, ["10.0.0.1"]),
        (9090, ["10.0.0.2"]),
    ]


def test_pods_lacking_a_port_get_their_own_subset() -> None:
    svc = service(
        ports=[
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"},
        ]
    )
    body = created(
        svc, pod("a", "10.0.0.1", ports=[{"name": "metrics", "containerPort": 9100}]), pod("b", "10.0.0.2")
    )
    by_ports = {
        tuple(p["name"] for p in s["ports"]): [a["ip"] for a in s["addresses"]] for s in body["subsets"]
    }
    assert by_ports == {("http",): ["10.0.0.1", "10.0.0.2"], ("metrics",): ["10.0.0.1"]}


def test_headless_service_hostnames_and_label() -> None:
    svc = service(clusterIP="None")
    body = created(
        svc,
        pod("web-0", "10.0.0.1", hostname="web-0", subdomain="web"),
        pod("x", "10.0.0.2", hostname="x", subdomain="elsewhere"),
    )
    assert body["metadata"]["labels"] == {"team": "a", endpoints.HEADLESS: ""}
    assert body["subsets"][0]["addresses"] == [
        address("web-0", "10.0.0.1", hostname="web-0"),
        address("x", "10.0.0.2"),
    ]


def test_headless_service_without_ports_lists_addresses_without_ports() -> None:
    body = created(
        service(clusterIP="None", ports=[]), pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)
    )
    assert body["subsets"] == [
        {"addresses": [address("a", "10.0.0.1")], "notReadyAddresses": [address("b", "10.0.0.2")]}
    ]


def test_pod_of_another_ip_family_is_left_out() -> None:
    assert "subsets" not in created(service(), pod("a", "fd00::1"))


def test_no_change_no_write_and_changes_are_guarded_updates() -> None:
    svc, pods = service(), [pod("a", "10.0.0.1"), pod("b", "10.0.0.2")]
    current = created(svc, *pods)
    current["metadata"] |= {"uid": "uid-ep", "resourceVersion": "7"}
    current["subsets"][0]["addresses"][0]["targetRef"]["resourceVersion"] = "3"  # does not count
    assert sync(svc, *pods, endpoints_obj=current) == []
    [update] = sync(svc, pods[0], endpoints_obj=current)
    assert isinstance(update, framework.Update)
    assert update.body["metadata"]["resourceVersion"] == "7"
    assert [a["ip"] for a in update.body["subsets"][0]["addresses"]] == ["10.0.0.1"]
    relabelled = service()
    relabelled["metadata"]["labels"] = {"team": "b"}
    [update] = sync(relabelled, *pods, endpoints_obj=current)
    assert isinstance(update, framework.Update) and update.body["metadata"]["labels"] == {"team": "b"}


def test_trigger_time_is_the_latest_change() -> None:
    late = pod("a")
    late["status"]["conditions"][0]["lastTransitionTime"] = "2023-11-14T22:30:00Z"
    body = created(service(), late)
    assert body["metadata"]["annotations"][endpoints.LAST_CHANGE_TRIGGER_TIME] == "2023-11-14T22:30:00Z"


def test_over_capacity_is_truncated_and_annotated() -> None:
    pods = [pod(f"p{i:04d}", f"10.1.{i // 250}.{i % 250 + 1}", ready=i % 2 == 0) for i in range(1100)]
    body = created(service(), *pods)
    [subset] = body["subsets"]
    assert len(subset["addresses"]) == 550 and len(subset["notReadyAddresses"]) == 450
    assert body["metadata"]["annotations"][endpoints.OVER_CAPACITY] == "truncated"
    body["metadata"]["resourceVersion"] = "1"
    assert sync(service(), *pods, endpoints_obj=body) == []


@pytest.mark.parametrize(
    "svc",
    [service(selector={}), service(type="ExternalName", externalName="example.com")],
    ids=["no-selector", "external-name"],
)
def test_services_it_does_not_manage_are_left_alone(svc: Obj) -> None:
    hand_made = {"metadata": {"name": "web", "namespace": "default", "uid": "e", "resourceVersion": "1"}}
    assert sync(svc, pod("a"), endpoints_obj=hand_made) == []


def test_endpoints_of_a_deleted_service_are_deleted() -> None:
    current: Obj = {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-ep", "resourceVersion": "1"}
    }
    assert sync(None, endpoints_obj=current) == [
        framework.Delete(resource="endpoints", namespace="default", name="web", uid="uid-ep")
    ]
    assert sync(None) == []
    lock = meta.deep_copy(current)
    lock["metadata"]["annotations"] = {endpoints.LEADER_ANNOTATION: "{}"}
    assert sync(None, endpoints_obj=lock) == []


# -- keys_for ------------------------------------------------------------------------------------------------


def test_pod_events_enqueue_the_services_selecting_it() -> None:
    web, api = service("web"), service("api", selector={"app": "api"})
    cache = DictCache({"services": [web, api], "pods": [pod("a")]})
    controller = EndpointsController()
    a = pod("a")
    assert list(controller.keys_for("pods", a, None, cache)) == ["default/web"]
    status_only = meta.deep_copy(a)
    status_only["status"]["startTime"] = "2023-11-14T22:00:00Z"
    assert list(controller.keys_for("pods", status_only, a, cache)) == []
    unready = pod("a", ready=False)
    assert list(controller.keys_for("pods", unready, a, cache)) == ["default/web"]
    moved = pod("a", labels={"app": "api"})
    assert sorted(controller.keys_for("pods", moved, a, cache)) == ["default/api", "default/web"]
    cache.remove("pods", a)
    assert list(controller.keys_for("pods", a, a, cache)) == ["default/web"]  # deleted, whatever old says


def test_service_and_endpoints_events() -> None:
    controller = EndpointsController()
    cache = DictCache({"services": [service()]})
    assert list(controller.keys_for("services", service(), None, cache)) == ["default/web"]
    current = {"metadata": {"name": "web", "namespace": "default", "uid": "e"}}
    assert list(controller.keys_for("endpoints", current, None, DictCache({"endpoints": [current]}))) == []
    assert list(controller.keys_for("endpoints", current, None, cache)) == ["default/web"]


# -- remembering across syncs --------------------------------------------------------------------------------


def _churn(rng: random.Random, pods: dict[str, Obj]) -> None:
    """A few pods change as the apiserver would show it: each change is a new object."""
    for name in rng.sample(sorted(pods), min(3, len(pods))):
        what = rng.choice(["ready", "ip", "gone", "label", "terminating", "stamp"])
        changed = meta.deep_copy(pods[name])
        del changed["metadata"]["resourceVersion"]  # a new version: ``versioned`` gives it its number
        if what == "gone":
            del pods[name]
            continue
        if what == "ready":
            condition = changed["status"]["conditions"][0]
            condition["status"] = "False" if condition["status"] == "True" else "True"
        elif what == "ip":
            ip = f"10.0.{rng.randrange(4)}.{rng.randrange(1, 250)}"
            changed["status"] |= {"podIP": ip, "podIPs": [{"ip": ip}]}
        elif what == "label":
            changed["metadata"]["labels"] = {"app": rng.choice(["web", "other"])}
        elif what == "terminating":
            changed["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z"
        else:
            changed["status"]["conditions"][0]["lastTransitionTime"] = (
                f"2023-11-14T22:{rng.randrange(60):02d}:00Z"
            )
        pods[name] = changed
    for _ in range(rng.randrange(3)):
        name = f"new-{rng.randrange(10_000):04d}"
        pods[name] = pod(name, f"10.0.{rng.randrange(4)}.{rng.randrange(1, 250)}", ready=rng.random() < 0.7)


class Informed:
    """The objects of a test in an informer's cache (which keeps a change log) and in a ``DictCache``."""

    def __init__(self) -> None:
        self.informers = {r: Informer(r) for r in ("pods", "services", "endpoints")}
        self.logged = InformerCache(self.informers)
        self.serial = 0

    def load(self, **objects: Iterable[Obj]) -> DictCache:
        """List ``objects`` into the informers (each new version numbered), and return them as a DictCache."""
        for resource, items in objects.items():
            items = list(items)
            for obj in items:
                if not obj["metadata"].get("resourceVersion"):
                    self.serial += 1
                    obj["metadata"]["resourceVersion"] = str(self.serial)
            self.informers[resource].replace(items, str(self.serial))
        return DictCache(objects)


METRICS = {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}


@pytest.mark.parametrize(
    ("seed", "count", "ready_every", "ports"),
    [
        (0, 12, 3, None),
        (1, 40, 2, None),
        (2, 1100, 3, None),
        (3, 1300, 100, None),
        (4, 60, 3, [service()["spec"]["ports"][0], METRICS]),
    ],
    ids=["few", "more", "not-ready-truncated", "ready-truncated", "pods-with-other-ports"],
)
def test_a_controller_that_remembers_syncs_as_a_fresh_one_would(
    seed: int, count: int, ready_every: int, ports: list[Obj] | None
) -> None:
    """What a sync computed about each pod is reused for the pods that did not change, and only for those."""
    rng = random.Random(seed)
    metrics = [{"name": "metrics", "containerPort": 9100}]
    pods = {
        f"p{i:04d}": pod(
            f"p{i:04d}",
            f"10.1.{i // 250}.{i % 250 + 1}",
            ready=i % ready_every > 0,
            ports=metrics if i % 4 else None,
        )
        for i in range(count)
    }
    svc = service() if ports is None else service(ports=ports)
    remembering, logging, informed = EndpointsController(), EndpointsController(), Informed()
    current: Obj | None = None
    for step in range(16):
        cache = informed.load(pods=pods.values(), services=[svc], endpoints=[current] if current else [])
        actions = remembering.reconcile("default/web", cache, CTX).actions
        assert actions == EndpointsController().reconcile("default/web", cache, CTX).actions, f"step {step}"
        assert actions == logging.reconcile("default/web", informed.logged, CTX).actions, f"step {step}"
        for action in actions:
            assert isinstance(action, framework.Create | framework.Update)
            current = meta.deep_copy(action.body)
            current["metadata"]["resourceVersion"] = ""
        # and what it wrote is what the pure helpers make of the whole selection
        selector = endpoints.service_selector(svc)
        assert current is not None and selector is not None
        expected = endpoints.desired_subsets(svc, endpoints.selected_pods(cache, svc, selector))
        truncated = subsets.truncate(expected)
        assert current.get("subsets", []) == expected, f"step {step}"
        assert (endpoints.OVER_CAPACITY in current["metadata"]["annotations"]) == truncated
        _churn(rng, pods)
        if step == 8:  # a new version of the Service: everything is looked at again
            svc = service(ports=[{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}])
