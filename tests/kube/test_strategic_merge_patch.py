"""Kubernetes' strategic merge patch and its merge-key table.

Cases come from the Kubernetes task "Update API Objects in Place Using kubectl patch" and from the strategic
merge patch design notes (community/contributors/devel/sig-api-machinery/strategic-merge-patch.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from kube import codec, errors, meta, patch, strategic_merge_patch

PATCH_DEMO = codec.load_yaml_documents("""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: patch-demo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: patch-demo-ctr
        image: nginx
      tolerations:
      - effect: NoSchedule
        key: dedicated
        value: test-team
""")[0]

RETAINKEYS_DEMO = codec.load_yaml_documents("""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: retainkeys-demo
spec:
  selector:
    matchLabels:
      app: nginx
  strategy:
    rollingUpdate:
      maxSurge: 30%
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: retainkeys-demo-ctr
        image: nginx
""")[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def test_docs_containers_merge_by_name() -> None:
    """kubectl patch deployment patch-demo --patch-file patch-file.yaml: a second container is added."""
    result = strategic_merge_patch.strategic_merge_patch(
        PATCH_DEMO,
        {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}},
        "Deployment",
    )
    assert pod_spec(result)["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]
    assert pod_spec(result)["tolerations"] == pod_spec(PATCH_DEMO)["tolerations"]


def test_docs_tolerations_are_replaced() -> None:
    """patch-file-tolerations.yaml: tolerations has no patch strategy, so the list is replaced."""
    tolerations = [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]
    result = strategic_merge_patch.strategic_merge_patch(
        PATCH_DEMO, {"spec": {"template": {"spec": {"tolerations": tolerations}}}}, "Deployment"
    )
    assert pod_spec(result)["tolerations"] == tolerations
    assert pod_spec(result)["containers"] == pod_spec(PATCH_DEMO)["containers"]


def test_docs_json_merge_patch_replaces_containers() -> None:
    """patch-file-2.yaml with --type merge: the whole containers list is replaced."""
    containers = [{"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}]
    result = patch.merge_patch(PATCH_DEMO, {"spec": {"template": {"spec": {"containers": containers}}}})
    assert pod_spec(result)["containers"] == containers


def test_docs_retain_keys_clears_rolling_update() -> None:
    """patch-file-retainkeys.yaml: $retainKeys drops strategy.rollingUpdate when switching to Recreate."""
    without = strategic_merge_patch.strategic_merge_patch(
        RETAINKEYS_DEMO, {"spec": {"strategy": {"type": "Recreate"}}}, "Deployment"
    )
    assert without["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": "30%"}, "type": "Recreate"}
    retained = strategic_merge_patch.strategic_merge_patch(
        RETAINKEYS_DEMO, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, "Deployment"
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


def test_docs_patch_replicas_keeps_everything_else() -> None:
    result = strategic_merge_patch.strategic_merge_patch(PATCH_DEMO, {"spec": {"replicas": 3}}, "Deployment")
    assert result == {**PATCH_DEMO, "spec": {**PATCH_DEMO["spec"], "replicas": 3}}


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "finalizers": ["a", "b"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}],
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {"name": "sidecar", "image": "proxy:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    },
    "status": {
        "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
    },
}

SMP_CASES = [
    pytest.param(
        {"spec": {"containers": [{"name": "app", "image": "app:2"}]}},
        lambda p: p["spec"]["containers"][0].update(image="app:2"),
        id="container-merged-by-name",
    ),
    pytest.param(
        {
            "spec": {
                "containers": [
                    {"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}
                ]
            }
        },
        lambda p: p["spec"]["containers"][0].update(
            env=[{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
        ),
        id="env-merged-by-name-known-order-kept",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "name": "http"}]}]}},
        lambda p: p["spec"]["containers"][0]["ports"][0].update(name="http"),
        id="ports-merged-by-containerPort",
    ),
    pytest.param(
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                    }
                ]
            }
        },
        lambda p: p["spec"]["containers"][0]["volumeMounts"][0].update(readOnly=True),
        id="volumeMounts-merged-by-mountPath",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
        lambda p: p["spec"]["containers"].pop(1),
        id="list-item-delete-directive",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}},
        lambda p: p["spec"].update(containers=[{"name": "only", "image": "x"}]),
        id="list-replace-directive",
    ),
    pytest.param(
        {"spec": {"$patch": "replace", "containers": [{"name": "only", "image": "x"}]}},
        lambda p: p.update(spec={"containers": [{"name": "only", "image": "x"}]}),
        id="map-replace-directive",
    ),
    pytest.param(
        {"status": {"$patch": "delete"}},
        lambda p: p.update(status={}),
        id="map-delete-directive",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "app", "image": None}]}},
        lambda p: p["spec"]["containers"][0].pop("image"),
        id="null-deletes-field-in-merged-item",
    ),
    pytest.param(
        {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}},
        lambda p: p["spec"].update(tolerations=[{"key": "other", "operator": "Exists"}]),
        id="tolerations-replaced",
    ),
    pytest.param(
        {
            "spec": {
                "volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]
            }
        },
        lambda p: p["spec"].update(volumes=[{"name": "data", "hostPath": {"path": "/x"}}]),
        id="volume-source-swapped-with-retainKeys",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["c", "a"]}},
        lambda p: p["metadata"].update(finalizers=["c", "a", "b"]),
        id="finalizers-merged-as-set",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
        lambda p: p["metadata"].update(finalizers=["b"]),
        id="deleteFromPrimitiveList",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}},
        lambda p: p["metadata"].update(finalizers=["b", "c", "a"]),
        id="setElementOrder-primitives",
    ),
    pytest.param(
        {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}},
        lambda p: p["spec"].update(containers=p["spec"]["containers"][::-1]),
        id="setElementOrder-reorders-containers",
    ),
    pytest.param(
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "new"}, {"name": "sidecar"}],
                "containers": [{"name": "new", "image": "n"}],
            }
        },
        lambda p: p["spec"]["containers"].insert(1, {"name": "new", "image": "n"}),
        id="setElementOrder-places-new-container",
    ),
    pytest.param(
        {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}},
        lambda p: p["metadata"]["ownerReferences"][0].update(controller=True),
        id="ownerReferences-merged-by-uid",
    ),
    pytest.param(
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        lambda p: p["status"].update(
            conditions=[{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
        ),
        id="conditions-merged-by-type-order-kept",
    ),
    pytest.param(
        {"spec": {"nodeSelector": {"disk": "ssd"}}},
        lambda p: p["spec"].update(nodeSelector={"disk": "ssd"}),
        id="new-map-added",
    ),
    pytest.param(
        {"spec": {"affinity": {"a": {"$patch": "delete"}, "b": None, "c": 1}}},
        lambda p: p["spec"].update(affinity={"c": 1}),
        id="new-map-loses-directives-and-nulls",
    ),
]


@pytest.mark.parametrize(("smp", "change"), SMP_CASES)
def test_strategic_merge_patch_on_a_pod(smp: dict[str, Any], change: Any) -> None:
    expected = meta.deep_copy(POD)
    change(expected)
    before = meta.deep_copy(POD)
    frozen_patch = meta.deep_copy(smp)
    assert strategic_merge_patch.strategic_merge_patch(POD, smp, "Pod") == expected
    assert before == POD
    assert frozen_patch == smp


@pytest.mark.parametrize(
    ("kind", "target", "smp", "result"),
    [
        pytest.param(
            "Service",
            {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}},
            {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
            {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}},
            id="service-ports-by-port",
        ),
        pytest.param(
            "CronJob",
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}
                    }
                }
            },
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}
                    }
                }
            },
            {
                "spec": {
                    "jobTemplate": {
                        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}
                    }
                }
            },
            id="cronjob-nested-pod-spec",
        ),
        pytest.param(
            "Node",
            {
                "spec": {"podCIDRs": ["10.0.0.0/24"]},
                "status": {"addresses": [{"type": "InternalIP", "address": "a"}]},
            },
            {
                "spec": {"podCIDRs": ["fd00::/64"]},
                "status": {"addresses": [{"type": "Hostname", "address": "n"}]},
            },
            {
                "spec": {"podCIDRs": ["fd00::/64", "10.0.0.0/24"]},
                "status": {
                    "addresses": [
                        {"type": "Hostname", "address": "n"},
                        {"type": "InternalIP", "address": "a"},
                    ]
                },
            },
            id="node-cidrs-and-addresses",
        ),
        pytest.param(
            "PodDisruptionBudget",
            {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
            {"spec": {"selector": {"matchLabels": {"b": "2"}}}},
            {"spec": {"selector": {"matchLabels": {"b": "2"}}}},
            id="pdb-selector-replaced",
        ),
        pytest.param(
            "ConfigMap",
            {"metadata": {"finalizers": ["x"]}, "data": {"a": "1", "b": "2"}},
            {"metadata": {"finalizers": ["y"]}, "data": {"a": None, "c": "3"}},
            {"metadata": {"finalizers": ["y", "x"]}, "data": {"b": "2", "c": "3"}},
            id="unlisted-kind-gets-object-meta-rules",
        ),
        pytest.param(
            "Widget",
            {"spec": {"items": [{"name": "a"}]}},
            {"spec": {"items": [{"name": "b"}]}},
            {"spec": {"items": [{"name": "b"}]}},
            id="unknown-lists-replaced",
        ),
    ],
)
def test_strategic_merge_patch_by_kind(kind: str, target: Any, smp: Any, result: Any) -> None:
    assert strategic_merge_patch.strategic_merge_patch(target, smp, kind) == result


@pytest.mark.parametrize(
    ("smp", "message"),
    [
        pytest.param(
            {"spec": {"containers": [{"image": "x"}]}},
            "does not contain declared merge key: name",
            id="missing-merge-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"$patch": "delete"}]}},
            "does not contain declared merge key: name",
            id="delete-without-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}},
            "merging lists cannot yet be specified",
            id="merge-directive",
        ),
        pytest.param({"spec": {"$patch": "bogus"}}, "unknown patch type: bogus", id="unknown-directive"),
        pytest.param(
            {"spec": {"$retainKeys": ["a"], "b": 1}},
            "invalid patch format of retainKeys",
            id="retainKeys-mismatch",
        ),
        pytest.param(
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            "invalid patch format of primitive list",
            id="bad-delete-list",
        ),
        pytest.param(
            {"metadata": {"$setElementOrder/finalizers": "a"}},
            "invalid patch format of setElementOrder list",
            id="bad-order-list",
        ),
        pytest.param(
            {"metadata": {"finalizers": [1]}}, "list element types are not identical", id="mixed-types"
        ),
    ],
)
def test_strategic_merge_patch_errors(smp: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.PatchError, match=message):
        strategic_merge_patch.strategic_merge_patch(POD, smp, "Pod")


def test_merge_key_table_has_upstream_tags() -> None:
    pod_meta = strategic_merge_patch.PATCH_META["Pod"]
    assert pod_meta[("spec", "containers")].merge_key == "name"
    assert pod_meta[("spec", "containers", "ports")].merge_key == "containerPort"
    assert pod_meta[("spec", "volumes")].strategies == {
        strategic_merge_patch.PatchStrategy.MERGE,
        strategic_merge_patch.PatchStrategy.RETAIN_KEYS,
    }
    assert ("spec", "tolerations") not in pod_meta
    deployment = strategic_merge_patch.PATCH_META["Deployment"]
    assert deployment[("spec", "template", "spec", "initContainers", "env")].merge_key == "name"
    assert deployment[("metadata", "ownerReferences")].merge_key == "uid"
