"""The three patch types: RFC 7386 merge patch, RFC 6902 JSON patch and Kubernetes' strategic merge patch.

Cases come from the RFCs' appendices, from the Kubernetes task "Update API Objects in Place Using kubectl
patch" and from the strategic merge patch design notes (community/contributors/devel/sig-api-machinery/
strategic-merge-patch.md).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import codec, errors, meta, patch

# ---------------------------------------------------------------------------------------------------------
# RFC 7386 merge patch


@pytest.mark.parametrize(
    ("target", "merge", "result"),
    [
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="A1-replace"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="A2-add"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="A3-delete"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="A4-delete-one"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="A5-list-to-scalar"),
        pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="A6-scalar-to-list"),
        pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="A7-nested"),
        pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="A8-lists-replace"),
        pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="A9-array-target"),
        pytest.param({"a": "b"}, ["c"], ["c"], id="A10-array-patch"),
        pytest.param({"a": "foo"}, None, None, id="A11-null-patch"),
        pytest.param({"a": "foo"}, "bar", "bar", id="A12-scalar-patch"),
        pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="A13-null-in-target-kept"),
        pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="A14-object-over-array"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="A15-nested-null-dropped"),
    ],
)
def test_merge_patch_rfc7386_appendix_a(target: Any, merge: Any, result: Any) -> None:
    assert patch.merge_patch(target, merge) == result


def test_merge_patch_does_not_mutate_or_share() -> None:
    target = {"spec": {"replicas": 1, "template": {"labels": {"a": "b"}}}}
    merge = {"spec": {"replicas": 3, "new": {"x": [1]}}}
    result = patch.merge_patch(target, merge)
    result["spec"]["template"]["labels"]["a"] = "changed"
    result["spec"]["new"]["x"].append(2)
    assert target == {"spec": {"replicas": 1, "template": {"labels": {"a": "b"}}}}
    assert merge == {"spec": {"replicas": 3, "new": {"x": [1]}}}


@pytest.mark.parametrize(
    ("original", "modified", "expected"),
    [
        pytest.param({"a": 1, "b": 2}, {"a": 1, "b": 3}, {"b": 3}, id="changed"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}, id="nested-removed"),
        pytest.param({"a": [1, 2]}, {"a": [1, 2, 3]}, {"a": [1, 2, 3]}, id="list-replaced"),
        pytest.param({"a": 1}, {"a": 1}, {}, id="unchanged"),
        pytest.param({"a": 1}, {"a": True}, {"a": True}, id="one-is-not-true"),
    ],
)
def test_create_merge_patch(original: Any, modified: Any, expected: Any) -> None:
    assert patch.create_merge_patch(original, modified) == expected


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_with_nulls = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=15,
)
# Merge patch cannot set a member to null, so the modified document holds no null object member.
json_without_null_members = st.recursive(
    scalars.filter(lambda v: v is not None),
    lambda c: st.lists(c | st.none(), max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=15,
)


@given(
    st.dictionaries(st.text(max_size=3), json_with_nulls, max_size=4),
    st.dictionaries(st.text(max_size=3), json_without_null_members, max_size=4),
)
def test_create_merge_patch_inverts_merge_patch(original: dict[str, Any], modified: dict[str, Any]) -> None:
    assert patch.merge_patch(original, patch.create_merge_patch(original, modified)) == modified


# ---------------------------------------------------------------------------------------------------------
# RFC 6902 JSON patch


@pytest.mark.parametrize(
    ("target", "operations", "result"),
    [
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
            id="A1-add-member",
        ),
        pytest.param(
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
            id="A2-add-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "remove", "path": "/baz"}],
            {"foo": "bar"},
            id="A3-remove-member",
        ),
        pytest.param(
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
            id="A4-remove-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
            id="A5-replace",
        ),
        pytest.param(
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
            id="A6-move-value",
        ),
        pytest.param(
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
            id="A7-move-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
            id="A8-test-success",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
            id="A10-add-nested",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
            id="A11-ignore-unknown-members",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": 10}],
            {"/": 9, "~1": 10},
            id="A14-escape-order",
        ),
        pytest.param(
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
            id="A16-append-array",
        ),
        pytest.param(
            {"a": {"b/c": 1}},
            [{"op": "copy", "from": "/a/b~1c", "path": "/d"}],
            {"a": {"b/c": 1}, "d": 1},
            id="copy-escaped",
        ),
        pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1], id="replace-root"),
        pytest.param({"a": None}, [{"op": "test", "path": "/a", "value": None}], {"a": None}, id="test-null"),
        pytest.param({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}, id="move-to-itself"),
        pytest.param(
            {"metadata": {"labels": {"app": "web"}}},
            [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}],
            {"metadata": {"labels": {"app": "web", "app.kubernetes.io/name": "web"}}},
            id="label-with-slash",
        ),
    ],
)
def test_json_patch_rfc6902_appendix_a(target: Any, operations: list[dict[str, Any]], result: Any) -> None:
    assert patch.json_patch(target, operations) == result


@pytest.mark.parametrize(
    ("target", "operations", "message"),
    [
        pytest.param(
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "testing value /baz failed",
            id="A9-test-fails",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz/bat", "value": "qux"}],
            'add operation does not apply: doc is missing path: "/baz/bat"',
            id="A12-missing-parent",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": "10"}],
            "testing value /~01 failed",
            id="A15-string-is-not-number",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "remove", "path": "/spec/foo"}],
            "unable to remove nonexistent key: foo",
            id="remove-missing",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "replace", "path": "/spec/replicas", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/replicas",
            id="replace-missing",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/5", "value": 1}],
            "Unable to access invalid index: 5",
            id="index-out-of-range",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/01", "value": 1}],
            "value was not a proper array index: '01'",
            id="leading-zero",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "remove", "path": "/a/-"}],
            "value was not a proper array index: '-'",
            id="dash-on-remove",
        ),
        pytest.param(
            {"a": 1},
            [{"op": "copy", "from": "/b", "path": "/c"}],
            'copy operation does not apply: doc is missing from path: "/b"',
            id="copy-missing-from",
        ),
        pytest.param(
            {"a": {"b": 1}},
            [{"op": "move", "from": "/a", "path": "/a/b/c"}],
            "cannot move /a into its own child",
            id="move-into-child",
        ),
        pytest.param(
            {"a": 1}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate", id="unknown-op"
        ),
        pytest.param(
            {"a": 1}, [{"op": "add", "path": "/b"}], "add operation, missing value field", id="missing-value"
        ),
        pytest.param({"a": 1}, [{"op": "remove"}], "remove operation, missing path field", id="missing-path"),
        pytest.param(
            {"a": 1},
            [{"op": "add", "path": "a", "value": 1}],
            'JSON pointer must be empty or start with a "/"',
            id="relative-pointer",
        ),
        pytest.param(
            {"a": 1},
            [{"op": "add", "path": "/a/b", "value": 1}],
            'doc is missing path: "/a/b"',
            id="scalar-parent",
        ),
        pytest.param({"a": 1}, {"op": "add"}, "a JSON patch must be a list of operations", id="not-a-list"),
    ],
)
def test_json_patch_errors_read_like_upstream(target: Any, operations: Any, message: str) -> None:
    with pytest.raises(errors.PatchError, match=re.escape(message)):
        patch.json_patch(target, operations)


def test_json_patch_is_all_or_nothing_and_pure() -> None:
    target = {"spec": {"replicas": 1}, "items": [{"a": 1}]}
    value = {"x": [1]}
    result = patch.json_patch(target, [{"op": "add", "path": "/items/-", "value": value}])
    result["items"][1]["x"].append(2)
    assert value == {"x": [1]}
    with pytest.raises(errors.PatchError):
        patch.json_patch(
            target, [{"op": "remove", "path": "/spec/replicas"}, {"op": "test", "path": "/x", "value": 1}]
        )
    assert target == {"spec": {"replicas": 1}, "items": [{"a": 1}]}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        pytest.param("", [], id="root"),
        pytest.param("/", [""], id="empty-key"),
        pytest.param("/a~1b/m~0n/~01", ["a/b", "m~n", "~1"], id="escapes"),
    ],
)
def test_parse_pointer(pointer: str, tokens: list[str]) -> None:
    assert patch.parse_pointer(pointer) == tokens


# ---------------------------------------------------------------------------------------------------------
# Strategic merge patch

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
    result = patch.strategic_merge_patch(
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
    result = patch.strategic_merge_patch(
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
    without = patch.strategic_merge_patch(
        RETAINKEYS_DEMO, {"spec": {"strategy": {"type": "Recreate"}}}, "Deployment"
    )
    assert without["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": "30%"}, "type": "Recreate"}
    retained = patch.strategic_merge_patch(
        RETAINKEYS_DEMO, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, "Deployment"
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


def test_docs_patch_replicas_keeps_everything_else() -> None:
    result = patch.strategic_merge_patch(PATCH_DEMO, {"spec": {"replicas": 3}}, "Deployment")
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
    assert patch.strategic_merge_patch(POD, smp, "Pod") == expected
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
    assert patch.strategic_merge_patch(target, smp, kind) == result


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
        patch.strategic_merge_patch(POD, smp, "Pod")


def test_merge_key_table_has_upstream_tags() -> None:
    pod_meta = patch.PATCH_META["Pod"]
    assert pod_meta[("spec", "containers")].merge_key == "name"
    assert pod_meta[("spec", "containers", "ports")].merge_key == "containerPort"
    assert pod_meta[("spec", "volumes")].strategies == {
        patch.PatchStrategy.MERGE,
        patch.PatchStrategy.RETAIN_KEYS,
    }
    assert ("spec", "tolerations") not in pod_meta
    deployment = patch.PATCH_META["Deployment"]
    assert deployment[("spec", "template", "spec", "initContainers", "env")].merge_key == "name"
    assert deployment[("metadata", "ownerReferences")].merge_key == "uid"
