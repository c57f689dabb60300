"""RBAC authorization: Role, ClusterRole, RoleBinding and ClusterRoleBinding evaluated as upstream does.

What this module promises:

- ``Authorizer`` holds the four RBAC kinds (``rbac.authorization.k8s.io/v1`` dicts) in memory. The
  apiserver feeds it from a watch with ``add``/``update``/``remove`` (or ``replace`` after a relist); it
  keeps parsed copies, so the caller's dicts are never changed or kept.
- ``authorize`` follows upstream's ``RBACAuthorizer``: ClusterRoleBindings are visited first, then the
  RoleBindings of the request's namespace; the first rule that allows the request wins and its reason
  names the binding, role and subject (``RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole
  "cluster-admin" to Group "system:masters"``). Bindings are visited in name order, so the reason is
  deterministic (upstream's lister order is not). RBAC never denies: without a matching rule the verdict
  is ``NO_OPINION``, and a binding whose role is missing adds ``RBAC: <role> not found`` to the reason.
- Rule matching is upstream's: ``*`` in verbs, apiGroups and resources; ``resource/subresource`` and
  ``*/subresource``; ``resourceNames`` (a rule with names never matches a request without a name);
  ``nonResourceURLs`` exact or with a trailing ``*`` as a prefix. Subjects are User, Group and
  ServiceAccount (namespace defaulting to the RoleBinding's).
- ``forbidden`` builds the 403 the apiserver answers with when the verdict is not ``ALLOW``.
- ``access_review_status`` answers a (Self)SubjectAccessReview spec with its status dict.
- ``bootstrap_policy`` returns the default ClusterRoles and ClusterRoleBindings of a fresh cluster.

Left out: ClusterRole aggregation (``aggregationRule`` is kept on the object, but only ``rules`` are
evaluated; ``bootstrap_policy`` ships admin/edit/view already aggregated, as the controller would leave
them); the ``system:masters`` short-circuit kube-apiserver places before RBAC (pass ``privileged_groups``
to get it); field and label selectors in access reviews; LocalSubjectAccessReview's namespace check.

Past 400 lines because a third of it is the bootstrap policy's data; if that grows (more component roles,
per-controller roles) it moves to its own module, as upstream keeps it in ``bootstrappolicy``.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.apiserver import status
from kube import errors

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
# k8s.io/apiserver/pkg/authentication/user and .../serviceaccount
ANONYMOUS_USER = "system:anonymous"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
MASTERS_GROUP = "system:masters"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    """``user.Info``: who made a request."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Attributes:
    """``authorizer.Attributes``: what a request wants to do. ``path`` is for non-resource requests."""

    user: UserInfo
    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


class Verdict(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NO_OPINION = "NoOpinion"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    verdict: Verdict
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> PolicyRule:
        def strings(key: str) -> tuple[str, ...]:
            return tuple(rule.get(key) or ())

        return cls(
            verbs=strings("verbs"),
            api_groups=strings("apiGroups"),
            resources=strings("resources"),
            resource_names=strings("resourceNames"),
            non_resource_urls=strings("nonResourceURLs"),
        )

    def allows(self, attributes: Attributes) -> bool:
        """Upstream's ``RuleAllows``."""
        if "*" not in self.verbs and attributes.verb not in self.verbs:
            return False
        if not attributes.resource_request:
            return any(_url_matches(url, attributes.path) for url in self.non_resource_urls)
        if "*" not in self.api_groups and attributes.api_group not in self.api_groups:
            return False
        if not self._resource_matches(attributes.resource, attributes.subresource):
            return False
        return not self.resource_names or attributes.name in self.resource_names

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        combined = f"{resource}/{subresource}" if subresource else resource
        for candidate in self.resources:
            if candidate in ("*", combined) or (subresource and candidate == f"*/{subresource}"):
                return True
        return False


def _url_matches(rule_url: str, path: str) -> bool:
    if rule_url in ("*", path):
        return True
    return rule_url.endswith("*") and path.startswith(rule_url.rstrip("*"))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Binding:
    kind: str  # RoleBinding or ClusterRoleBinding
    namespace: str
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Mapping[str, str], ...]

    def subject_for(self, user: UserInfo) -> Mapping[str, str] | None:
        """The first subject that names ``user`` (upstream's ``appliesTo``)."""
        for subject in self.subjects:
            kind, name = subject.get("kind"), subject.get("name", "")
            if kind == "User" and user.name == name:
                return subject
            if kind == "Group" and name in user.groups:
                return subject
            if kind == "ServiceAccount":
                namespace = subject.get("namespace") or self.namespace
                if namespace and user.name == f"{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}":
                    return subject
        return None

    def describe(self, subject: Mapping[str, str]) -> str:
        """``clusterRoleBindingDescriber`` / ``roleBindingDescriber``."""
        binding = f"{self.name}/{self.namespace}" if self.namespace else self.name
        who = subject.get("name", "")
        if subject.get("kind") == "ServiceAccount":
            who = f"{who}/{subject.get('namespace') or self.namespace}"
        role = f"{self.role_kind} {status.quote(self.role_name)}"
        return f"{self.kind} {status.quote(binding)} of {role} to {subject.get('kind')} {status.quote(who)}"


class Authorizer:
    """The RBAC authorizer over in-memory roles and bindings (fed from a watch; not thread-safe)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = (), *, privileged_groups: Iterable[str] = ()):
        self._privileged = frozenset(privileged_groups)
        self._roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        self._cluster_roles: dict[str, tuple[PolicyRule, ...]] = {}
        self._role_bindings: dict[str, dict[str, _Binding]] = {}
        self._cluster_bindings: dict[str, _Binding] = {}
        self._sorted: dict[str, list[_Binding]] = {}  # by namespace ("" = cluster), in visiting order
        self.replace(objects)

    def add(self, obj: Mapping[str, Any]) -> None:
        """Insert or replace one Role, ClusterRole, RoleBinding or ClusterRoleBinding."""
        kind, namespace, name = _identity(obj)
        if kind == "Role":
            self._roles[namespace, name] = _rules(obj)
        elif kind == "ClusterRole":
            self._cluster_roles[name] = _rules(obj)
        else:
            ref = obj.get("roleRef") or {}
            binding = _Binding(
                kind=kind,
                namespace=namespace if kind == "RoleBinding" else "",
                name=name,
                role_kind=ref.get("kind", ""),
                role_name=ref.get("name", ""),
                subjects=tuple(dict(s) for s in obj.get("subjects") or ()),
            )
            if kind == "RoleBinding":
                self._role_bindings.setdefault(namespace, {})[name] = binding
            else:
                self._cluster_bindings[name] = binding
            self._sorted.pop(binding.namespace, None)

    update = add

    def remove(self, obj: Mapping[str, Any]) -> None:
        """Forget one object; removing an unknown object does nothing."""
        kind, namespace, name = _identity(obj)
        if kind == "Role":
            self._roles.pop((namespace, name), None)
        elif kind == "ClusterRole":
            self._cluster_roles.pop(name, None)
        elif kind == "RoleBinding":
            self._role_bindings.get(namespace, {}).pop(name, None)
            self._sorted.pop(namespace, None)
        else:
            self._cluster_bindings.pop(name, None)
            self._sorted.pop("", None)

    def replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Drop everything and load ``objects`` (after a relist)."""
        for table in (
            self._roles,
            self._cluster_roles,
            self._role_bindings,
            self._cluster_bindings,
            self._sorted,
        ):
            table.clear()
        for obj in objects:
            self.add(obj)

    def authorize(self, attributes: Attributes) -> Decision:
        """Allow with the granting binding as reason, or no opinion (with resolution errors, if any)."""
        if self._privileged.intersection(attributes.user.groups):
            return Decision(verdict=Verdict.ALLOW)
        problems: list[str] = []
        for binding, subject, rules in self._visit(attributes.user, attributes.namespace, problems):
            if any(rule.allows(attributes) for rule in rules):
                return Decision(verdict=Verdict.ALLOW, reason=f"RBAC: allowed by {binding.describe(subject)}")
        reason = f"RBAC: {aggregate_message(problems)}" if problems else ""
        return Decision(verdict=Verdict.NO_OPINION, reason=reason)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """Every rule that applies to ``user`` in ``namespace``, and the resolution errors met."""
        problems: list[str] = []
        rules = [rule for _, _, found in self._visit(user, namespace, problems) for rule in found]
        return rules, problems

    def _visit(
        self, user: UserInfo, namespace: str, problems: list[str]
    ) -> Iterable[tuple[_Binding, Mapping[str, str], tuple[PolicyRule, ...]]]:
        scopes = ("", namespace) if namespace else ("",)
        for binding in itertools.chain.from_iterable(self._in_order(scope) for scope in scopes):
            subject = binding.subject_for(user)
            if subject is None:
                continue
            rules = self._role_rules(binding)
            if isinstance(rules, str):
                problems.append(rules)
                continue
            yield binding, subject, rules

    def _in_order(self, namespace: str) -> list[_Binding]:
        """ClusterRoleBindings (namespace "") or one namespace's RoleBindings, sorted by name, cached."""
        found = self._sorted.get(namespace)
        if found is None:
            table = self._role_bindings.get(namespace, {}) if namespace else self._cluster_bindings
            found = self._sorted[namespace] = [table[name] for name in sorted(table)]
        return found

    def _role_rules(self, binding: _Binding) -> tuple[PolicyRule, ...] | str:
        """The referenced role's rules, or the lister's error text when it does not exist."""
        if binding.role_kind == "ClusterRole":
            found = self._cluster_roles.get(binding.role_name)
        elif binding.role_kind == "Role":
            found = self._roles.get((binding.namespace, binding.role_name))
        else:
            return f"unsupported role reference kind: {status.quote(binding.role_kind)}"
        if found is None:
            return f"{binding.role_kind.lower()}.{GROUP} {status.quote(binding.role_name)} not found"
        return found


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    kind = obj.get("kind", "")
    if kind not in _KINDS:
        raise ValueError(f"not an RBAC object: kind {kind!r}")
    metadata = obj.get("metadata") or {}
    return kind, metadata.get("namespace") or "", metadata.get("name") or ""


def _rules(obj: Mapping[str, Any]) -> tuple[PolicyRule, ...]:
    return tuple(PolicyRule.from_dict(rule) for rule in obj.get("rules") or ())


def aggregate_message(messages: Sequence[str]) -> str:
    """apimachinery's ``NewAggregate(...).Error()``: one message bare, several deduplicated within []."""
    unique = list(dict.fromkeys(messages))
    if len(messages) == 1 or len(unique) == 1:
        return unique[0] if unique else ""
    return "[" + ", ".join(unique) + "]"


def forbidden(attributes: Attributes, reason: str = "") -> status.ApiError:
    """The 403 the apiserver answers for a request the authorizer did not allow (``reason`` appended).

    ``pods "web" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace
    "default"``; ``at the cluster scope`` without a namespace; ``forbidden: User "bob" cannot get path
    "/metrics"`` for a non-resource request. The wording lives in ``status.authorization_denied``.
    """
    return status.authorization_denied(
        user=attributes.user.name,
        verb=attributes.verb,
        resource=attributes.resource,
        group=attributes.api_group,
        namespace=attributes.namespace,
        name=attributes.name,
        subresource=attributes.subresource,
        path=None if attributes.resource_request else attributes.path,
        reason=reason,
    )


def access_review_status(
    authorizer: Authorizer, spec: Mapping[str, Any], *, requester: UserInfo | None = None
) -> dict[str, Any]:
    """The ``status`` of a SubjectAccessReview (``requester`` None) or SelfSubjectAccessReview.

    A SelfSubjectAccessReview checks the requesting user; a SubjectAccessReview the spec's user, groups,
    uid and extra. Raises ``ValidationError`` with upstream's messages for a malformed spec.
    """
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    problems = []
    if (resource is None) == (non_resource is None):
        problems.append(
            errors.FieldError(
                field="spec",
                type=errors.FieldErrorType.INVALID,
                bad_value=non_resource,
                detail="exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if requester is None and not spec.get("user") and not spec.get("groups"):
        problems.append(
            errors.FieldError(
                field="spec.user",
                type=errors.FieldErrorType.INVALID,
                bad_value=spec.get("user") or "",
                detail="at least one of user or group must be specified",
            )
        )
    if problems:
        raise errors.ValidationError(problems)
    user = requester or UserInfo(
        name=spec.get("user") or "",
        groups=tuple(spec.get("groups") or ()),
        uid=spec.get("uid") or "",
        extra={key: tuple(values) for key, values in (spec.get("extra") or {}).items()},
    )
    if resource is not None:
        attributes = Attributes(
            user=user,
            verb=resource.get("verb") or "",
            api_group=resource.get("group") or "",
            resource=resource.get("resource") or "",
            subresource=resource.get("subresource") or "",
            namespace=resource.get("namespace") or "",
            name=resource.get("name") or "",
        )
    else:
        non_resource = non_resource or {}
        attributes = Attributes(
            user=user,
            verb=non_resource.get("verb") or "",
            path=non_resource.get("path") or "",
            resource_request=False,
        )
    decision = authorizer.authorize(attributes)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.verdict is Verdict.DENY:
        status["denied"] = True
    if decision.reason:
        status["reason"] = decision.reason
    return status


def rules_review_status(authorizer: Authorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    """The ``status`` of a SelfSubjectRulesReview (what ``kubectl auth can-i --list`` prints)."""
    rules, problems = authorizer.rules_for(user, namespace)
    status: dict[str, Any] = {
        "resourceRules": [
            {"verbs": list(r.verbs), "apiGroups": list(r.api_groups), "resources": list(r.resources)}
            | ({"resourceNames": list(r.resource_names)} if r.resource_names else {})
            for r in rules
            if r.resources
        ],
        "nonResourceRules": [
            {"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)}
            for r in rules
            if r.non_resource_urls
        ],
        "incomplete": bool(problems),
    }
    if problems:
        status["evaluationError"] = aggregate_message(problems)
    return status


# ---- bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go) ----

_READ = ("get", "list", "watch")
_WRITE = ("create", "update", "patch", "delete", "deletecollection")
_READ_WRITE = _READ + _WRITE
_EVENTS = ("create", "patch", "update")


def _rule(
    verbs: Sequence[str],
    groups: Sequence[str] = (),
    resources: Sequence[str] = (),
    *,
    names: Sequence[str] = (),
    urls: Sequence[str] = (),
) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": list(verbs)}
    if urls:
        rule["nonResourceURLs"] = list(urls)
        return rule
    rule["apiGroups"], rule["resources"] = list(groups), list(resources)
    if names:
        rule["resourceNames"] = list(names)
    return rule


_AGGREGATE_TO_VIEW = [
    _rule(_READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                        "services", "services/status", "endpoints", "persistentvolumeclaims",
                        "persistentvolumeclaims/status", "configmaps"]),
    _rule(_READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                        "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                        "pods/log"]),
    # read access to namespaces at the namespace scope means you can read *this* namespace
    _rule(_READ, [""], ["namespaces"]),
    _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
    _rule(_READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/status",
                            "statefulsets/scale", "daemonsets", "daemonsets/status", "deployments",
                            "deployments/status", "deployments/scale", "replicasets", "replicasets/status",
                            "replicasets/scale"]),
    _rule(_READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    _rule(_READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
    _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    _rule(_READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
]  # fmt: skip
_AGGREGATE_TO_EDIT = [
    # read access to escalating resources, and impersonation of service accounts
    _rule(_READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                        "services/proxy"]),
    _rule(["impersonate"], [""], ["serviceaccounts"]),
    _rule(_WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
    _rule(["create"], [""], ["pods/eviction"]),
    _rule(_WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                         "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets",
                         "events"]),
    _rule(["create"], [""], ["serviceaccounts/token"]),
    _rule(_WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                             "deployments/scale", "deployments/rollback", "replicasets",
                             "replicasets/scale"]),
    _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    _rule(_WRITE, ["batch"], ["jobs", "cronjobs"]),
    _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
    _rule(_WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
]  # fmt: skip
_AGGREGATE_TO_ADMIN = [
    _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    _rule(_READ_WRITE, [GROUP], ["roles", "rolebindings"]),
]
_HEALTH_URLS = ("/livez", "/readyz", "/healthz", "/version", "/version/")
_CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "cluster-admin": [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])],
    "system:discovery": [
        _rule(["get"], urls=[*_HEALTH_URLS, "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"])
    ],
    "system:basic-user": [
        _rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
        _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ],
    "system:public-info-viewer": [_rule(["get"], urls=_HEALTH_URLS)],
    "system:service-account-issuer-discovery": [
        _rule(["get"], urls=["/.well-known/openid-configuration", "/openid/v1/jwks"])
    ],
    "system:aggregate-to-view": _AGGREGATE_TO_VIEW,
    "system:aggregate-to-edit": _AGGREGATE_TO_EDIT,
    "system:aggregate-to-admin": _AGGREGATE_TO_ADMIN,
    # what the aggregation controller leaves in the aggregated roles
    "view": _AGGREGATE_TO_VIEW,
    "edit": _AGGREGATE_TO_EDIT + _AGGREGATE_TO_VIEW,
    "admin": _AGGREGATE_TO_ADMIN + _AGGREGATE_TO_EDIT + _AGGREGATE_TO_VIEW,
    "system:node-proxier": [
        _rule(["list", "watch"], [""], ["services", "endpoints"]),
        _rule(_READ, [""], ["nodes"]),
        _rule(_EVENTS, ["", "events.k8s.io"], ["events"]),
        _rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
    ],
    "system:kube-scheduler": [
        _rule(_EVENTS, ["", "events.k8s.io"], ["events"]),
        _rule(["create"], ["coordination.k8s.io"], ["leases"]),
        _rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
        _rule(_READ, [""], ["nodes"]),
        _rule(["get", "list", "watch", "delete"], [""], ["pods"]),
        _rule(["create"], [""], ["pods/binding", "bindings"]),
        _rule(["patch", "update"], [""], ["pods/status"]),
        _rule(_READ, [""], ["services", "replicationcontrollers", "namespaces"]),
        _rule(_READ, ["apps", "extensions"], ["replicasets"]),
        _rule(_READ, ["apps"], ["statefulsets"]),
        _rule(_READ, ["policy"], ["poddisruptionbudgets"]),
        _rule(_READ, [""], ["persistentvolumeclaims", "persistentvolumes"]),
        _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    ],
    "system:kube-dns": [_rule(["list", "watch"], [""], ["endpoints", "services"])],
}
_AGGREGATION = {
    "admin": ("aggregate-to-admin", None),
    "edit": ("aggregate-to-edit", "aggregate-to-admin"),
    "view": ("aggregate-to-view", "aggregate-to-edit"),
    "system:aggregate-to-admin": (None, "aggregate-to-admin"),
    "system:aggregate-to-edit": (None, "aggregate-to-edit"),
    "system:aggregate-to-view": (None, "aggregate-to-view"),
}
_CLUSTER_ROLE_BINDINGS: dict[str, list[dict[str, str]]] = {
    "cluster-admin": [{"kind": "Group", "name": MASTERS_GROUP}],
    "system:discovery": [{"kind": "Group", "name": AUTHENTICATED_GROUP}],
    "system:basic-user": [{"kind": "Group", "name": AUTHENTICATED_GROUP}],
    "system:public-info-viewer": [
        {"kind": "Group", "name": AUTHENTICATED_GROUP},
        {"kind": "Group", "name": UNAUTHENTICATED_GROUP},
    ],
    "system:service-account-issuer-discovery": [{"kind": "Group", "name": SERVICE_ACCOUNTS_GROUP}],
    "system:node-proxier": [{"kind": "User", "name": "system:kube-proxy"}],
    "system:kube-scheduler": [{"kind": "User", "name": "system:kube-scheduler"}],
    "system:kube-dns": [{"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}],
}


def _bootstrap_metadata(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def bootstrap_policy() -> list[dict[str, Any]]:
    """The ClusterRoles, then the ClusterRoleBindings, that a fresh upstream cluster starts with.

    A subset of upstream's list: the roles users and ``kubectl`` rely on (cluster-admin, admin, edit,
    view, discovery, basic-user, public-info-viewer) and those of the components kubemu runs as
    themselves (kube-proxy, kube-scheduler, DNS). Fresh dicts on every call.
    """
    objects: list[dict[str, Any]] = []
    for name, rules in _CLUSTER_ROLES.items():
        role: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "ClusterRole"}
        role["metadata"] = _bootstrap_metadata(name)
        selects, member_of = _AGGREGATION.get(name, (None, None))
        if member_of:
            role["metadata"]["labels"][f"{GROUP}/{member_of}"] = "true"
        if selects:
            label = {f"{GROUP}/{selects}": "true"}
            role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": label}]}
        role["rules"] = [_copy_rule(rule) for rule in rules]
        objects.append(role)
    for name, subjects in _CLUSTER_ROLE_BINDINGS.items():
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "ClusterRoleBinding",
                "metadata": _bootstrap_metadata(name),
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name},
                "subjects": [
                    subject | ({"apiGroup": GROUP} if subject["kind"] != "ServiceAccount" else {})
                    for subject in subjects
                ],
            }
        )
    return objects


def _copy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {key: list(value) for key, value in rule.items()}
