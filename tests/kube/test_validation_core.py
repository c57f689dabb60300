"""Validation of core/v1 kinds through ``kube.validate``: upstream's field paths and messages, exactly."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kube import defaults, kinds, validate
from kube import validation_pod as vp

K = kinds.DEFAULT
Mutation = Callable[[dict[str, Any]], None]

LABEL_REGEX_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def kind(api_version: str, name: str) -> kinds.Kind:
    found = K.by_kind(api_version, name)
    assert found is not None
    return found


POD, SERVICE, NAMESPACE = kind("v1", "Pod"), kind("v1", "Service"), kind("v1", "Namespace")
CONFIG_MAP, SECRET = kind("v1", "ConfigMap"), kind("v1", "Secret")
NODE, ENDPOINTS = kind("v1", "Node"), kind("v1", "Endpoints")


def create_errors(k: kinds.Kind, obj: dict[str, Any]) -> list[str]:
    defaults.default(k, obj)
    return [e.message() for e in validate.validate_create(k, obj)]


def update_errors(k: kinds.Kind, new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    defaults.default(k, new)
    defaults.default(k, old)
    return [e.message() for e in validate.validate_update(k, new, old)]


def pod(**spec: Any) -> dict[str, Any]:
    base = {
        "containers": [
            {"name": "web", "image": "nginx:1.25", "ports": [{"name": "http", "containerPort": 80}]}
        ]
    }
    return {
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
        "spec": {**base, **spec},
    }


def ctr(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "nginx", **fields}


# --- Pod create ---------------------------------------------------------------------------------------------

POD_CREATE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", pod(), []),
    ("no-containers", pod(containers=[]), ["spec.containers: Required value"]),
    (
        "container-name-required",
        pod(containers=[{"image": "nginx"}]),
        ["spec.containers[0].name: Required value"],
    ),
    (
        "container-name-dns-label",
        pod(containers=[ctr(name="Web_1")]),
        [f'spec.containers[0].name: Invalid value: "Web_1": {LABEL_REGEX_ERROR}'],
    ),
    ("image-required", pod(containers=[{"name": "web"}]), ["spec.containers[0].image: Required value"]),
    (
        "duplicate-container-names",
        pod(containers=[ctr(name="a"), ctr(name="a")]),
        ['spec.containers[1].name: Duplicate value: "a"'],
    ),
    (
        "init-container-name-clashes",
        pod(containers=[ctr(name="a")], initContainers=[ctr(name="a")]),
        ['spec.initContainers[0].name: Duplicate value: "a"'],
    ),
    (
        "port-required-and-range",
        pod(
            containers=[
                ctr(
                    ports=[
                        {"containerPort": 0},
                        {"containerPort": 65536},
                        {"containerPort": 1, "hostPort": -1},
                    ]
                )
            ]
        ),
        [
            "spec.containers[0].ports[0].containerPort: Required value",
            "spec.containers[0].ports[1].containerPort: Invalid value: 65536: must be between 1 and "
            "65535, inclusive",
            "spec.containers[0].ports[2].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
        ],
    ),
    (
        "duplicate-port-names",
        pod(
            containers=[
                ctr(ports=[{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}])
            ]
        ),
        ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
    ),
    (
        "bad-port-name",
        pod(containers=[ctr(ports=[{"name": "-Web--", "containerPort": 80}])]),
        [
            'spec.containers[0].ports[0].name: Invalid value: "-Web--": must contain only alpha-numeric '
            "characters (a-z, 0-9), and hyphens (-)",
            'spec.containers[0].ports[0].name: Invalid value: "-Web--": must not contain consecutive hyphens',
            'spec.containers[0].ports[0].name: Invalid value: "-Web--": must not begin or end with a hyphen',
        ],
    ),
    (
        "protocol",
        pod(containers=[ctr(ports=[{"containerPort": 80, "protocol": "ICMP"}])]),
        [
            'spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", '
            '"TCP", "UDP"'
        ],
    ),
    (
        "host-port-conflict",
        pod(
            containers=[
                ctr(name="a", ports=[{"containerPort": 80, "hostPort": 8080}]),
                ctr(name="b", ports=[{"containerPort": 81, "hostPort": 8080}]),
            ]
        ),
        ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"'],
    ),
    (
        "requests-above-limits",
        pod(containers=[ctr(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}})]),
        [
            'spec.containers[0].resources.requests: Invalid value: "1500m": must be less than or equal to '
            "cpu limit of 1"
        ],
    ),
    (
        "unparsable-quantity",
        pod(containers=[ctr(resources={"requests": {"memory": "lots"}})]),
        [
            'spec.containers[0].resources.requests[memory]: Invalid value: "lots": quantities must match '
            "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ],
    ),
    (
        "negative-quantity",
        pod(containers=[ctr(resources={"requests": {"cpu": "-1"}})]),
        [
            'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or '
            "equal to 0"
        ],
    ),
    (
        "unknown-resource",
        pod(containers=[ctr(resources={"limits": {"gpu": "1"}})]),
        [
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource '
            "type or fully qualified",
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource '
            "for containers",
            # the request defaulted from the limit is reported too, as upstream does
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
            "resource type or fully qualified",
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard '
            "resource for containers",
        ],
    ),
    (
        "extended-resource-not-overcommitted",
        pod(
            containers=[
                ctr(resources={"limits": {"example.com/gpu": "1"}, "requests": {"example.com/gpu": "2"}})
            ]
        ),
        [
            'spec.containers[0].resources.requests: Invalid value: "2": must be equal to example.com/gpu '
            "limit of 1",
        ],
    ),
    (
        "restart-policy",
        pod(restartPolicy="Foo"),
        ['spec.restartPolicy: Unsupported value: "Foo": supported values: "Always", "OnFailure", "Never"'],
    ),
    (
        "dns-policy",
        pod(dnsPolicy="Google"),
        [
            'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
            '"ClusterFirst", "Default", "None"'
        ],
    ),
    (
        "pull-policy",
        pod(containers=[ctr(imagePullPolicy="Sometimes")]),
        [
            'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "IfNotPresent", "Never"'
        ],
    ),
    (
        "volume-mount-unknown-volume",
        pod(containers=[ctr(volumeMounts=[{"name": "data", "mountPath": "/data"}])]),
        ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
    ),
    (
        "volume-name-and-duplicates",
        pod(volumes=[{"name": "a"}, {"name": "a"}, {"name": ""}]),
        ['spec.volumes[1].name: Duplicate value: "a"', "spec.volumes[2].name: Required value"],
    ),
    (
        "two-volume-sources",
        pod(volumes=[{"name": "a", "emptyDir": {}, "secret": {"secretName": "s"}}]),
        ["spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type"],
    ),
    (
        "active-deadline",
        pod(activeDeadlineSeconds=0),
        ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
    ),
    (
        "node-name",
        pod(nodeName="Node_1"),
        [
            'spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower '
            "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ],
    ),
    (
        "tolerations",
        pod(
            tolerations=[
                {"key": "k", "operator": "Exists", "value": "v"},
                {"operator": "Equal", "value": "x"},
                {"key": "k", "effect": "Sometimes"},
            ]
        ),
        [
            'spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is '
            "'Exists'",
            'spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is '
            'empty, which means "match all values and all keys"',
            'spec.tolerations[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
            '"PreferNoSchedule", "NoExecute"',
        ],
    ),
    (
        "host-network-port",
        pod(hostNetwork=True, containers=[ctr(ports=[{"containerPort": 80, "hostPort": 81}])]),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when "
            "`hostNetwork` is true"
        ],
    ),
    (
        "image-whitespace",
        pod(containers=[ctr(image=" nginx")]),
        ['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace'],
    ),
    (
        "ephemeral-containers-on-create",
        pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}]),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
    (
        "probe-without-handler",
        pod(containers=[ctr(livenessProbe={"initialDelaySeconds": 1})]),
        ["spec.containers[0].livenessProbe: Required value: must specify a handler type"],
    ),
    (
        "regular-container-restart-policy",
        pod(containers=[ctr(restartPolicy="Always")]),
        ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in POD_CREATE_CASES], ids=[c[0] for c in POD_CREATE_CASES]
)
def test_pod_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(POD, obj) == expected


def test_pod_metadata_and_mirror_annotation() -> None:
    obj = pod()
    obj["metadata"] = {"namespace": "default", "annotations": {"kubernetes.io/config.mirror": "x"}}
    assert create_errors(POD, obj) == [
        "metadata.name: Required value: name or generateName is required",
        'metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "x": must set spec.nodeName if '
        "mirror pod annotation is set",
    ]


# --- Pod update ---------------------------------------------------------------------------------------------

FORBIDDEN_POD_UPDATE = (
    "spec: Forbidden: pod updates may not change fields other than "
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _set(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        target: Any = obj
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


POD_UPDATE_CASES: list[tuple[str, dict[str, Any], Mutation, list[str]]] = [
    ("image", {}, _set("spec.containers.0.image", "nginx:1.26"), []),
    ("labels", {}, _set("metadata.labels", {"tier": "web"}), []),
    ("deadline-set", {}, _set("spec.activeDeadlineSeconds", 30), []),
    ("deadline-lowered", {"activeDeadlineSeconds": 30}, _set("spec.activeDeadlineSeconds", 10), []),
    (
        "deadline-raised",
        {"activeDeadlineSeconds": 30},
        _set("spec.activeDeadlineSeconds", 60),
        ["spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"],
    ),
    (
        "deadline-removed",
        {"activeDeadlineSeconds": 30},
        _set("spec.activeDeadlineSeconds", None),
        [
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to "
            "nil value"
        ],
    ),
    (
        "container-added",
        {},
        _set("spec.containers", [ctr(name="web", image="nginx:1.25"), ctr(name="sidecar")]),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"],
    ),
    ("toleration-added", {}, _set("spec.tolerations", [{"key": "k", "operator": "Exists"}]), []),
    (
        "toleration-changed",
        {"tolerations": [{"key": "k", "operator": "Exists"}]},
        _set("spec.tolerations", [{"key": "j", "operator": "Exists"}]),
        ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"],
    ),
    ("gate-removed", {"schedulingGates": [{"name": "wait"}]}, _set("spec.schedulingGates", []), []),
    (
        "gate-added",
        {},
        _set("spec.schedulingGates", [{"name": "wait"}]),
        [
            "spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling "
            "gate 'wait'"
        ],
    ),
    (
        "grace-from-negative-to-one",
        {"terminationGracePeriodSeconds": -1},
        _set("spec.terminationGracePeriodSeconds", 1),
        [],
    ),
    (
        "node-selector-added-while-gated",
        {"schedulingGates": [{"name": "wait"}]},
        _set("spec.nodeSelector", {"zone": "a"}),
        [],
    ),
]


@pytest.mark.parametrize(
    ("old_spec", "mutate", "expected"),
    [c[1:] for c in POD_UPDATE_CASES],
    ids=[c[0] for c in POD_UPDATE_CASES],
)
def test_pod_update(old_spec: dict[str, Any], mutate: Mutation, expected: list[str]) -> None:
    old = pod(**old_spec)
    new = copy.deepcopy(old)
    mutate(new)
    assert update_errors(POD, new, old) == expected


def test_pod_update_of_other_fields_is_forbidden_with_a_diff() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    new["spec"]["containers"][0]["image"] = "nginx:1.26"  # allowed, so not in the diff
    [error] = update_errors(POD, new, old)
    assert error == (
        FORBIDDEN_POD_UPDATE + "\n-  spec.containers[0].ports[0].containerPort: 80\n"
        "+  spec.containers[0].ports[0].containerPort: 8080"
    )


def test_pod_update_checks_metadata() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "other"
    del new["metadata"]["resourceVersion"]
    assert update_errors(POD, new, old) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        'metadata.name: Invalid value: "other": field is immutable',
    ]


def test_spec_diff_lists_changed_leaves() -> None:
    old = {"a": 1, "b": {"c": [1, 2]}, "d": "x"}
    new = {"a": 1, "b": {"c": [1, 3]}, "e": True}
    assert list(vp.spec_diff(old, new, "spec")) == [
        "-  spec.b.c[1]: 2",
        "+  spec.b.c[1]: 3",
        '-  spec.d: "x"',
        "+  spec.d: null",
        "-  spec.e: null",
        "+  spec.e: true",
    ]


# --- Service ------------------------------------------------------------------------------------------------


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    return {
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "3"},
        "spec": {**base, **spec},
    }


SERVICE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", service(), []),
    ("ports-required", service(ports=[]), ["spec.ports: Required value"]),
    ("headless-without-ports", service(ports=[], clusterIP="None"), []),
    ("external-name", service(ports=[], type="ExternalName", externalName="db.example.com."), []),
    (
        "external-name-required",
        service(ports=[], type="ExternalName"),
        ["spec.externalName: Required value"],
    ),
    (
        "port-range",
        service(ports=[{"port": 0}]),
        [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            # targetPort was defaulted to the (bad) port, and upstream reports it as well
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ],
    ),
    (
        "protocol",
        service(ports=[{"port": 80, "protocol": "HTTP"}]),
        ['spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
    ),
    (
        "names-required-when-several",
        service(ports=[{"port": 80}, {"port": 443, "name": "https"}]),
        ["spec.ports[0].name: Required value"],
    ),
    (
        "duplicate-names",
        service(ports=[{"port": 80, "name": "web"}, {"port": 443, "name": "web"}]),
        ['spec.ports[1].name: Duplicate value: "web"'],
    ),
    (
        "duplicate-port",
        service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]),
        [
            "spec.ports[1]: Duplicate value: "
            '{"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}'
        ],
    ),
    (
        "target-port-name",
        service(ports=[{"port": 80, "targetPort": "HTTP"}]),
        [
            'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters '
            "(a-z, 0-9), and hyphens (-)",
            'spec.ports[0].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)',
        ],
    ),
    (
        "type",
        service(type="Internal"),
        [
            'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
            '"LoadBalancer", "NodePort"'
        ],
    ),
    (
        "node-port-on-cluster-ip",
        service(ports=[{"port": 80, "nodePort": 30080}]),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ),
    ("node-port", service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]), []),
    (
        "session-affinity",
        service(sessionAffinity="Sticky"),
        ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'],
    ),
    (
        "cluster-ip",
        service(clusterIP="10.0.0.300"),
        [
            'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 '
            "or 2001:db8::ffff)"
        ],
    ),
    (
        "headless-node-port",
        service(type="NodePort", clusterIP="None"),
        ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"],
    ),
    (
        "external-traffic-policy-on-cluster-ip",
        service(externalTrafficPolicy="Local"),
        [
            'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
            "externally-accessible services"
        ],
    ),
]


SERVICE_CASES += [
    (
        "load-balancer-local-needs-health-check-port",
        service(type="LoadBalancer", externalTrafficPolicy="Local"),
        ["spec.healthCheckNodePort: Required value"],
    ),
    (
        "load-balancer-local",
        service(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=31000),
        [],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service_create(obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(SERVICE, obj) == expected


@pytest.mark.parametrize(
    ("old_ip", "new_ip", "expected"),
    [
        ("10.96.0.10", "10.96.0.10", []),
        (
            "10.96.0.10",
            "10.96.0.11",
            ['spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set'],
        ),
        ("None", "None", []),
    ],
    ids=["unchanged", "changed", "headless"],
)
def test_service_cluster_ip_is_immutable(old_ip: str, new_ip: str, expected: list[str]) -> None:
    old = service(clusterIP=old_ip)
    new = service(clusterIP=new_ip, ports=[{"port": 8080}])
    assert update_errors(SERVICE, new, old) == expected


# --- Namespace, ConfigMap, Secret, Node, Endpoints ----------------------------------------------------------

OTHER_CASES: list[tuple[str, kinds.Kind, dict[str, Any], list[str]]] = [
    (
        "namespace-valid",
        NAMESPACE,
        {"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]}},
        [],
    ),
    (
        "namespace-name",
        NAMESPACE,
        {"metadata": {"name": "team.a"}},
        ['metadata.name: Invalid value: "team.a": must not contain dots'],
    ),
    (
        "namespace-finalizer",
        NAMESPACE,
        {"metadata": {"name": "a"}, "spec": {"finalizers": ["cleanup"]}},
        [
            'spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is '
            "it fully qualified"
        ],
    ),
    (
        "namespace-forbids-namespace",
        NAMESPACE,
        {"metadata": {"name": "a", "namespace": "b"}},
        ["metadata.namespace: Forbidden: not allowed on this type"],
    ),
    (
        "configmap-valid",
        CONFIG_MAP,
        {"metadata": {"name": "c", "namespace": "d"}, "data": {"app.conf": "x"}},
        [],
    ),
    (
        "configmap-keys",
        CONFIG_MAP,
        {
            "metadata": {"name": "c", "namespace": "d"},
            "data": {"a b": "x", "..": "y", "k": "z"},
            "binaryData": {"k": "eg=="},
        },
        [
            'data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '
            "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
            "is '[-._a-zA-Z0-9]+')",
            "data[..]: Invalid value: \"..\": must not be '..'",
            'data[k]: Invalid value: "k": duplicate of key present in binaryData',
        ],
    ),
    (
        "configmap-too-big",
        CONFIG_MAP,
        {"metadata": {"name": "c", "namespace": "d"}, "data": {"big": "x" * (1024 * 1024 + 1)}},
        ["Too long: may not be more than 1048576 bytes"],
    ),
    (
        "secret-tls-keys",
        SECRET,
        {
            "metadata": {"name": "s", "namespace": "d"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "eA=="},
        },
        ["data[tls.key]: Required value"],
    ),
    (
        "secret-key",
        SECRET,
        {"metadata": {"name": "s", "namespace": "d"}, "data": {"a/b": "eA=="}},
        [
            'data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '
            "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
            "is '[-._a-zA-Z0-9]+')"
        ],
    ),
    (
        "node-taints",
        NODE,
        {
            "metadata": {"name": "node-1"},
            "spec": {
                "taints": [
                    {"key": "k", "effect": "NoSchedule"},
                    {"key": "k", "effect": "NoSchedule"},
                    {"key": "j", "effect": "Later"},
                ]
            },
        },
        [
            'metadata.taints[1]: Duplicate value: {"key":"k","value":"","effect":"NoSchedule"}: taints '
            "must be unique by key and effect pair",
            'metadata.taints[2].effect: Unsupported value: "Later": supported values: "NoSchedule", '
            '"PreferNoSchedule", "NoExecute"',
        ],
    ),
    (
        "endpoints",
        ENDPOINTS,
        {
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [
                {"ports": [{"port": 80}]},
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80}, {"port": 443, "name": "https"}]},
            ],
        },
        [
            "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
            'subsets[1].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range '
            "(127.0.0.0/8, ::1/128)",
            "subsets[1].ports[0].name: Required value",
        ],
    ),
]


@pytest.mark.parametrize(
    ("k", "obj", "expected"), [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES]
)
def test_other_core_kinds(k: kinds.Kind, obj: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(k, obj) == expected


def test_endpoints_address_that_is_not_an_ip() -> None:
    obj = {
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.1"}], "ports": [{"port": 80}]}],
    }
    assert create_errors(ENDPOINTS, obj) == [
        'subsets[0].addresses[0].ip: Invalid value: "10.0.1": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'subsets[0].addresses[0].ip: Invalid value: "10.0.1": must be a valid IP address',
    ]


def test_immutable_secret_and_config_map() -> None:
    old: dict[str, Any] = {
        "metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"},
        "immutable": True,
        "data": {"a": "eA=="},
    }
    new = copy.deepcopy(old)
    new["data"]["a"] = "eQ=="
    new["type"] = "kubernetes.io/basic-auth"
    assert update_errors(SECRET, new, old) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
        "data: Forbidden: field is immutable when `immutable` is set",
        "data[username]: Required value",
        "data[password]: Required value",
    ]
    old_cm = {
        "metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"},
        "immutable": True,
        "data": {"a": "1"},
    }
    new_cm = copy.deepcopy(old_cm)
    new_cm["immutable"] = False
    assert update_errors(CONFIG_MAP, new_cm, old_cm) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"
    ]


def test_health_check_node_port_is_immutable() -> None:
    old = service(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=31000)
    new = copy.deepcopy(old)
    new["spec"]["healthCheckNodePort"] = 31001
    assert update_errors(SERVICE, new, old) == ["spec.healthCheckNodePort: Forbidden: field is immutable"]


def test_node_update_keeps_pod_cidrs_and_provider_id() -> None:
    old = {
        "metadata": {"name": "n", "resourceVersion": "1"},
        "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "kubemu://n"},
    }
    new = copy.deepcopy(old)
    new["spec"] = {"podCIDRs": ["10.244.2.0/24"], "providerID": "kubemu://m", "unschedulable": True}
    assert update_errors(NODE, new, old) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
    ]


# --- the dispatcher -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "name", "obj", "expected"),
    [
        (
            "coordination.k8s.io/v1",
            "Lease",
            {"metadata": {"name": "Bad_Name", "namespace": "kube-system"}},
            1,
        ),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", {"metadata": {"name": "system:Admin"}}, 0),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", {"metadata": {"name": "a/b"}}, 1),
        ("v1", "ConfigMap", {"metadata": {"name": "c", "namespace": "d", "finalizers": ["cleanup"]}}, 1),
        ("apps/v1", "StatefulSet", {"metadata": {"name": "a.b", "namespace": "d"}}, 1),
    ],
    ids=[
        "lease-subdomain",
        "rbac-path-segment-ok",
        "rbac-path-segment-slash",
        "kube-finalizer",
        "statefulset-dns-label",
    ],
)
def test_metadata_rules_per_kind(api_version: str, name: str, obj: dict[str, Any], expected: int) -> None:
    errors = [
        e for e in validate.validate_create(kind(api_version, name), obj) if e.field.startswith("metadata")
    ]
    assert len(errors) == expected


def test_kube_finalizer_message_and_dedup() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "c", "namespace": "d", "finalizers": ["cleanup"]}}
    assert [e.message() for e in validate.validate_create(CONFIG_MAP, obj)] == [
        'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor '
        "is it fully qualified"
    ]
    old = copy.deepcopy(obj) | {"data": {}}
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    # the update path runs the create-time metadata checks too; the repeated message appears once
    assert [e.message() for e in validate.validate_update(CONFIG_MAP, new, old)] == [
        'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor '
        "is it fully qualified"
    ]
