"""RBAC: upstream's rule matching, binding resolution, reasons, 403 messages, access reviews, bootstrap."""

from __future__ import annotations

from typing import Any

import pytest

from actors.apiserver import rbac
from actors.apiserver.rbac import Attributes, PolicyRule, UserInfo, Verdict
from kube import errors

ADMIN = UserInfo(name="kubernetes-admin", groups=("system:masters", "system:authenticated"))
BOB = UserInfo(name="bob", groups=("system:authenticated",))
ALICE = UserInfo(name="alice", groups=("dev-team", "system:authenticated"))
ANONYMOUS = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
BUILDER = UserInfo(
    name="system:serviceaccount:dev:builder",
    groups=("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated"),
)


def resource(user: UserInfo, verb: str, res: str, ns: str = "", name: str = "", **kw: Any) -> Attributes:
    return Attributes(user=user, verb=verb, resource=res, namespace=ns, name=name, **kw)


def path(user: UserInfo, verb: str, url: str) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=False, path=url)


def role_binding(name: str, ns: str, role_kind: str, role: str, *subjects: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [dict(s) for s in subjects],
    }


def cluster_role_binding(name: str, role: str, *subjects: dict[str, str]) -> dict[str, Any]:
    binding = role_binding(name, "", "ClusterRole", role, *subjects)
    binding["kind"] = "ClusterRoleBinding"
    del binding["metadata"]["namespace"]
    return binding


def role(name: str, ns: str, *rules: dict[str, Any]) -> dict[str, Any]:
    kind = "Role" if ns else "ClusterRole"
    metadata = {"name": name, "namespace": ns} if ns else {"name": name}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "rules": list(rules),
    }


USER_ALICE = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}
GROUP_DEV = {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "dev-team"}
SA_BUILDER = {"kind": "ServiceAccount", "name": "builder"}


@pytest.fixture
def authorizer() -> rbac.Authorizer:
    return rbac.Authorizer(rbac.bootstrap_policy())


# ---- the bootstrap policy, as kubectl would meet it ----

ALLOWED_BY_DEFAULT = [
    pytest.param(
        resource(ADMIN, "list", "pods", "default"),
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group '
        '"system:masters"',
        id="masters-list-pods",
    ),
    pytest.param(
        path(ADMIN, "get", "/metrics"),
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group '
        '"system:masters"',
        id="masters-non-resource",
    ),
    pytest.param(
        path(BOB, "get", "/apis/apps/v1"),
        'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group '
        '"system:authenticated"',
        id="authenticated-discovery",
    ),
    pytest.param(
        resource(BOB, "create", "selfsubjectaccessreviews", api_group="authorization.k8s.io"),
        'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group '
        '"system:authenticated"',
        id="authenticated-can-i",
    ),
    pytest.param(
        resource(BOB, "create", "selfsubjectrulesreviews", api_group="authorization.k8s.io"),
        'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group '
        '"system:authenticated"',
        id="authenticated-can-i-list",
    ),
    pytest.param(
        path(ANONYMOUS, "get", "/healthz"),
        'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole '
        '"system:public-info-viewer" to Group "system:unauthenticated"',
        id="anonymous-healthz",
    ),
    pytest.param(
        resource(UserInfo(name="system:kube-proxy"), "watch", "endpointslices", api_group="discovery.k8s.io"),
        'RBAC: allowed by ClusterRoleBinding "system:node-proxier" of ClusterRole "system:node-proxier" to '
        'User "system:kube-proxy"',
        id="kube-proxy-endpointslices",
    ),
    pytest.param(
        resource(UserInfo(name="system:serviceaccount:kube-system:kube-dns"), "watch", "services"),
        'RBAC: allowed by ClusterRoleBinding "system:kube-dns" of ClusterRole "system:kube-dns" to '
        'ServiceAccount "kube-dns/kube-system"',
        id="dns-service-account",
    ),
]


@pytest.mark.parametrize(("attributes", "reason"), ALLOWED_BY_DEFAULT)
def test_bootstrap_policy_allows_with_upstream_reason(
    authorizer: rbac.Authorizer, attributes: Attributes, reason: str
) -> None:
    decision = authorizer.authorize(attributes)
    assert decision == rbac.Decision(verdict=Verdict.ALLOW, reason=reason)
    assert decision.allowed


DENIED_BY_DEFAULT = [
    pytest.param(
        resource(BOB, "list", "pods", "default"),
        'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace '
        '"default"',
        id="list-namespaced",
    ),
    pytest.param(
        resource(BOB, "get", "pods", "default", "web"),
        'pods "web" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace '
        '"default"',
        id="get-named",
    ),
    pytest.param(
        resource(BOB, "create", "pods", "default", "web", subresource="exec"),
        'pods "web" is forbidden: User "bob" cannot create resource "pods/exec" in API group "" in the '
        'namespace "default"',
        id="subresource",
    ),
    pytest.param(
        resource(BOB, "list", "nodes"),
        'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope',
        id="cluster-scope",
    ),
    pytest.param(
        resource(BOB, "create", "deployments", "default", api_group="apps"),
        'deployments.apps is forbidden: User "bob" cannot create resource "deployments" in API group "apps" '
        'in the namespace "default"',
        id="named-group",
    ),
    pytest.param(
        path(BOB, "get", "/metrics"),
        'forbidden: User "bob" cannot get path "/metrics"',
        id="non-resource",
    ),
    pytest.param(
        path(ANONYMOUS, "get", "/api"),
        'forbidden: User "system:anonymous" cannot get path "/api"',
        id="anonymous-discovery",
    ),
]


@pytest.mark.parametrize(("attributes", "message"), DENIED_BY_DEFAULT)
def test_bootstrap_policy_has_no_opinion_and_forbidden_reads_as_upstream(
    authorizer: rbac.Authorizer, attributes: Attributes, message: str
) -> None:
    decision = authorizer.authorize(attributes)
    assert decision == rbac.Decision(verdict=Verdict.NO_OPINION, reason="")
    error = rbac.forbidden(attributes, decision.reason)
    assert (error.code, error.reason, error.message) == (403, "Forbidden", message)


# ---- rule matching ----

POD_GETTER = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
EVERYTHING = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
NAMED_CM = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["cm"], "resourceNames": ["app"]}


def rule_for(resources: list[str]) -> dict[str, Any]:
    return {"verbs": ["get"], "apiGroups": [""], "resources": resources}


def urls(*patterns: str) -> dict[str, Any]:
    return {"verbs": ["get"], "nonResourceURLs": list(patterns)}


RULES = [
    pytest.param(EVERYTHING, resource(BOB, "delete", "nodes"), True, id="all-wildcards"),
    pytest.param(POD_GETTER, resource(BOB, "list", "pods"), False, id="verb-mismatch"),
    pytest.param(POD_GETTER, resource(BOB, "get", "pods", api_group="apps"), False, id="group-mismatch"),
    pytest.param(POD_GETTER, resource(BOB, "get", "pods", subresource="log"), False, id="no-subresources"),
    pytest.param(rule_for(["pods/log"]), resource(BOB, "get", "pods", subresource="log"), True, id="sub"),
    pytest.param(rule_for(["*/scale"]), resource(BOB, "get", "rs", subresource="scale"), True, id="star-sub"),
    pytest.param(rule_for(["*/scale"]), resource(BOB, "get", "rs"), False, id="star-sub-needs-subresource"),
    pytest.param(
        rule_for(["pods/*"]), resource(BOB, "get", "pods", subresource="log"), False, id="no-sub-star"
    ),
    pytest.param(
        rule_for(["*"]), resource(BOB, "get", "pods", subresource="exec"), True, id="star-covers-sub"
    ),
    pytest.param(NAMED_CM, resource(BOB, "get", "cm", "x", "app"), True, id="resource-name-match"),
    pytest.param(NAMED_CM, resource(BOB, "get", "cm", "x", "other"), False, id="resource-name-mismatch"),
    pytest.param(NAMED_CM, resource(BOB, "list", "cm", "x"), False, id="resource-names-never-match-unnamed"),
    pytest.param(urls("/healthz"), path(BOB, "get", "/healthz"), True, id="url-exact"),
    pytest.param(urls("/healthz"), path(BOB, "get", "/healthz/etcd"), False, id="url-exact-only"),
    pytest.param(urls("/logs/*"), path(BOB, "get", "/logs/kube.log"), True, id="url-prefix"),
    pytest.param(urls("/logs/*"), path(BOB, "get", "/logs"), False, id="url-prefix-needs-slash"),
    pytest.param(urls("/logs*"), path(BOB, "get", "/logsX"), True, id="url-prefix-without-slash"),
    pytest.param(urls("*"), path(BOB, "get", "/anything"), True, id="url-star"),
    pytest.param(urls("*"), resource(BOB, "get", "pods"), False, id="url-rule-never-grants-resources"),
    pytest.param(EVERYTHING, path(BOB, "get", "/healthz"), False, id="resource-rule-never-grants-urls"),
]


@pytest.mark.parametrize(("rule", "attributes", "allowed"), RULES)
def test_rule_matching_is_upstreams(rule: dict[str, Any], attributes: Attributes, allowed: bool) -> None:
    assert PolicyRule.from_dict(rule).allows(attributes) is allowed


# ---- bindings ----

EDIT_IN_DEV = [
    role_binding("alice-edit", "dev", "ClusterRole", "edit", USER_ALICE),
    role_binding("team-read", "dev", "Role", "reader", GROUP_DEV),
    role("reader", "dev", {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}),
    role_binding("builder", "dev", "Role", "builder", SA_BUILDER),
    role("builder", "dev", {"verbs": ["create"], "apiGroups": ["batch"], "resources": ["jobs"]}),
]

BINDINGS = [
    pytest.param(
        resource(ALICE, "create", "pods", "dev", "web", subresource="exec"),
        'RBAC: allowed by RoleBinding "alice-edit/dev" of ClusterRole "edit" to User "alice"',
        id="rolebinding-to-clusterrole",
    ),
    pytest.param(resource(ALICE, "create", "pods", "prod"), "", id="rolebinding-stays-in-its-namespace"),
    pytest.param(resource(ALICE, "list", "pods"), "", id="rolebinding-never-grants-cluster-scope"),
    pytest.param(
        resource(UserInfo(name="carol", groups=("dev-team",)), "get", "secrets", "dev", "db"),
        'RBAC: allowed by RoleBinding "team-read/dev" of Role "reader" to Group "dev-team"',
        id="group-subject",
    ),
    pytest.param(
        resource(BUILDER, "create", "jobs", "dev", api_group="batch"),
        'RBAC: allowed by RoleBinding "builder/dev" of Role "builder" to ServiceAccount "builder/dev"',
        id="service-account-defaults-to-binding-namespace",
    ),
    pytest.param(
        resource(
            UserInfo(name="system:serviceaccount:prod:builder"), "create", "jobs", "dev", api_group="batch"
        ),
        "",
        id="service-account-of-another-namespace",
    ),
]


@pytest.mark.parametrize(("attributes", "reason"), BINDINGS)
def test_role_bindings_resolve_subjects_and_roles(attributes: Attributes, reason: str) -> None:
    authorizer = rbac.Authorizer([*rbac.bootstrap_policy(), *EDIT_IN_DEV])
    decision = authorizer.authorize(attributes)
    assert (decision.allowed, decision.reason) == (bool(reason), reason)


def test_cluster_role_binding_to_a_service_account_needs_its_namespace() -> None:
    authorizer = rbac.Authorizer(
        [
            role("reader", "", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}),
            cluster_role_binding("no-namespace", "reader", SA_BUILDER),
        ]
    )
    assert not authorizer.authorize(resource(BUILDER, "get", "pods", "dev")).allowed


def test_missing_roles_are_reported_in_the_reason_and_do_not_block_other_bindings() -> None:
    authorizer = rbac.Authorizer(
        [
            cluster_role_binding("ghost", "ghost", USER_ALICE),
            role_binding("phantom", "dev", "Role", "phantom", USER_ALICE),
        ]
    )
    decision = authorizer.authorize(resource(ALICE, "get", "pods", "dev"))
    assert decision == rbac.Decision(
        verdict=Verdict.NO_OPINION,
        reason='RBAC: [clusterrole.rbac.authorization.k8s.io "ghost" not found, '
        'role.rbac.authorization.k8s.io "phantom" not found]',
    )
    assert rbac.forbidden(resource(ALICE, "get", "pods", "dev", "web"), decision.reason).message == (
        'pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace '
        '"dev": RBAC: [clusterrole.rbac.authorization.k8s.io "ghost" not found, '
        'role.rbac.authorization.k8s.io "phantom" not found]'
    )
    authorizer.add(cluster_role_binding("view-all", "view", USER_ALICE))
    authorizer.add(role("view", "", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}))
    assert authorizer.authorize(resource(ALICE, "get", "pods", "dev")).reason == (
        'RBAC: allowed by ClusterRoleBinding "view-all" of ClusterRole "view" to User "alice"'
    )


def test_watch_events_update_and_revoke_access() -> None:
    authorizer = rbac.Authorizer()
    reader = role("reader", "dev", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    binding = role_binding("alice-reads", "dev", "Role", "reader", USER_ALICE)
    get_pod, list_pods = resource(ALICE, "get", "pods", "dev", "web"), resource(ALICE, "list", "pods", "dev")

    authorizer.add(reader)
    authorizer.add(binding)
    assert [authorizer.authorize(a).allowed for a in (get_pod, list_pods)] == [True, False]

    authorizer.update(
        role("reader", "dev", {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]})
    )
    assert [authorizer.authorize(a).allowed for a in (get_pod, list_pods)] == [True, True]

    authorizer.remove(binding)
    assert [authorizer.authorize(a).allowed for a in (get_pod, list_pods)] == [False, False]

    authorizer.remove(binding)  # a repeated delete is harmless
    authorizer.replace([reader, binding])
    assert authorizer.authorize(get_pod).allowed


def test_every_kind_can_be_removed() -> None:
    objects = [
        role("reader", "dev", POD_GETTER),
        role_binding("alice-reads", "dev", "Role", "reader", USER_ALICE),
        role("cluster-reader", "", POD_GETTER),
        cluster_role_binding("alice-reads-all", "cluster-reader", USER_ALICE),
    ]
    authorizer = rbac.Authorizer(objects)
    assert authorizer.authorize(resource(ALICE, "get", "pods", "dev")).allowed
    for obj in objects:
        authorizer.remove(obj)
    assert authorizer.authorize(resource(ALICE, "get", "pods", "dev")) == rbac.Decision(
        verdict=Verdict.NO_OPINION
    )
    authorizer.add(cluster_role_binding("alice-reads-all", "cluster-reader", USER_ALICE))
    assert authorizer.authorize(resource(ALICE, "get", "pods", "dev")).reason == (
        'RBAC: clusterrole.rbac.authorization.k8s.io "cluster-reader" not found'
    )


def test_unsupported_role_reference_kind_is_a_resolution_error() -> None:
    binding = role_binding("odd", "dev", "Group", "reader", USER_ALICE)
    decision = rbac.Authorizer([binding]).authorize(resource(ALICE, "get", "pods", "dev"))
    assert decision.reason == 'RBAC: unsupported role reference kind: "Group"'


def test_objects_passed_in_are_neither_changed_nor_kept() -> None:
    binding = role_binding("alice-edit", "dev", "ClusterRole", "edit", USER_ALICE)
    authorizer = rbac.Authorizer([*rbac.bootstrap_policy(), binding])
    binding["subjects"][0]["name"] = "mallory"
    assert authorizer.authorize(resource(ALICE, "get", "pods", "dev")).allowed


def test_other_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="not an RBAC object"):
        rbac.Authorizer().add({"kind": "Pod", "metadata": {"name": "web"}})


def test_privileged_groups_short_circuit_like_kube_apiserver() -> None:
    authorizer = rbac.Authorizer(privileged_groups=["system:masters"])
    assert authorizer.authorize(resource(ADMIN, "delete", "nodes")) == rbac.Decision(verdict=Verdict.ALLOW)
    assert not authorizer.authorize(resource(BOB, "delete", "nodes")).allowed


# ---- access reviews ----

REVIEWS = [
    pytest.param(
        {"user": "bob", "groups": ["system:authenticated"],
         "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}},
        {"allowed": False},
        id="sar-no",
    ),
    pytest.param(
        {"user": "alice", "resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": "dev"}},
        {"allowed": True,
         "reason": 'RBAC: allowed by RoleBinding "alice-edit/dev" of ClusterRole "edit" to User "alice"'},
        id="sar-yes",
    ),
    pytest.param(
        {"groups": ["system:masters"], "nonResourceAttributes": {"verb": "get", "path": "/metrics"}},
        {"allowed": True,
         "reason": 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to '
                   'Group "system:masters"'},
        id="sar-group-only-non-resource",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "status"), REVIEWS)
def test_subject_access_review_answers_for_the_spec_user(
    spec: dict[str, Any], status: dict[str, Any]
) -> None:
    authorizer = rbac.Authorizer([*rbac.bootstrap_policy(), *EDIT_IN_DEV])
    assert rbac.access_review_status(authorizer, spec) == status


def test_self_subject_access_review_answers_for_the_requester(authorizer: rbac.Authorizer) -> None:
    # kubectl auth can-i list pods --as=... sends the spec; a self review ignores any user in it
    spec = {"user": "kubernetes-admin", "resourceAttributes": {"verb": "list", "resource": "pods"}}
    assert rbac.access_review_status(authorizer, spec, requester=BOB) == {"allowed": False}
    assert rbac.access_review_status(authorizer, spec, requester=ADMIN)["allowed"] is True


NEITHER = (
    "spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"
)
INVALID_REVIEWS = [
    pytest.param(
        {"user": "bob"},
        None,
        NEITHER,
        id="no-attributes",
    ),
    pytest.param(
        {"resourceAttributes": {"verb": "get"}},
        None,
        'spec.user: Invalid value: "": at least one of user or group must be specified',
        id="no-subject",
    ),
    pytest.param(
        {},
        BOB,
        NEITHER,
        id="self-no-attributes",
    ),
]


@pytest.mark.parametrize(("spec", "requester", "message"), INVALID_REVIEWS)
def test_invalid_access_reviews_are_refused_with_upstream_messages(
    authorizer: rbac.Authorizer, spec: dict[str, Any], requester: UserInfo | None, message: str
) -> None:
    with pytest.raises(errors.ValidationError) as caught:
        rbac.access_review_status(authorizer, spec, requester=requester)
    assert str(caught.value) == message


def test_self_subject_rules_review_lists_what_can_i_list_prints(authorizer: rbac.Authorizer) -> None:
    status = rbac.rules_review_status(authorizer, BOB, "default")
    assert status["incomplete"] is False
    assert {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    } in status["resourceRules"]
    urls = {url for rule in status["nonResourceRules"] for url in rule["nonResourceURLs"]}
    assert {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/version"} <= urls
    assert not any("pods" in rule["resources"] for rule in status["resourceRules"])


def test_rules_review_is_incomplete_when_a_role_is_missing() -> None:
    authorizer = rbac.Authorizer(
        [
            role("named", "dev", NAMED_CM),
            role_binding("named", "dev", "Role", "named", USER_ALICE),
            role_binding("ghost", "dev", "Role", "ghost", USER_ALICE),
        ]
    )
    assert rbac.rules_review_status(authorizer, ALICE, "dev") == {
        "resourceRules": [
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["cm"], "resourceNames": ["app"]}
        ],
        "nonResourceRules": [],
        "incomplete": True,
        "evaluationError": 'role.rbac.authorization.k8s.io "ghost" not found',
    }


# ---- the bootstrap objects themselves ----


def test_bootstrap_policy_is_well_formed_and_fresh() -> None:
    objects = rbac.bootstrap_policy()
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
            "system:public-info-viewer"} <= set(roles)  # fmt: skip
    assert all(b["roleRef"]["name"] in roles for b in bindings)
    assert all(o["apiVersion"] == "rbac.authorization.k8s.io/v1" for o in objects)
    assert all(o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults" for o in objects)
    assert roles["view"]["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    }
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    objects[0]["rules"].clear()
    assert rbac.bootstrap_policy()[0]["rules"]


@pytest.mark.parametrize(
    ("role_name", "verb", "res", "group", "allowed"),
    [
        pytest.param("view", "list", "deployments", "apps", True, id="view-reads"),
        pytest.param("view", "get", "secrets", "", False, id="view-hides-secrets"),
        pytest.param("view", "create", "pods", "", False, id="view-cannot-write"),
        pytest.param("edit", "get", "secrets", "", True, id="edit-reads-secrets"),
        pytest.param("edit", "create", "deployments", "apps", True, id="edit-writes"),
        pytest.param(
            "edit", "create", "rolebindings", "rbac.authorization.k8s.io", False, id="edit-cannot-grant"
        ),
        pytest.param("admin", "create", "rolebindings", "rbac.authorization.k8s.io", True, id="admin-grants"),
        pytest.param("admin", "update", "resourcequotas", "", False, id="admin-cannot-change-quota"),
    ],
)
def test_admin_edit_view_are_nested_as_upstream(
    role_name: str, verb: str, res: str, group: str, allowed: bool
) -> None:
    authorizer = rbac.Authorizer(
        [*rbac.bootstrap_policy(), role_binding("b", "team", "ClusterRole", role_name, USER_ALICE)]
    )
    assert authorizer.authorize(resource(ALICE, verb, res, "team", api_group=group)).allowed is allowed


@pytest.mark.parametrize(
    ("messages", "text"),
    [
        pytest.param(["a"], "a", id="one"),
        pytest.param(["a", "a"], "a", id="duplicates-collapse"),
        pytest.param(["a", "b", "a"], "[a, b]", id="several"),
    ],
)
def test_aggregate_message_is_apimachinerys(messages: list[str], text: str) -> None:
    assert rbac.aggregate_message(messages) == text
