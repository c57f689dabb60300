"""The kinds registry: which resources exist, in which API group and version, and what they are called.

Each ``Kind`` carries the facts of upstream's discovery document (``APIResource``): group, version, kind,
plural resource, singular, short names, categories, whether it is namespaced, and its subresources. The
values below are upstream Kubernetes' own (``kubectl api-resources``), so ``kubectl`` and the official
clients find the resources where they expect them.

A ``Registry`` answers the lookups the apiserver and ``kubectl`` need: by REST coordinates (group, version,
resource), by ``apiVersion``/``kind`` of an object, and by any name ``kubectl`` accepts (``deployments``,
``deployment``, ``deploy``, ``Deployment``, ``deployments.apps``, ``deployments.v1.apps``). When two groups
share a name (``pods`` in core and in ``metrics.k8s.io``) the kind registered first wins a bare lookup, as
kubectl's priority of the core group does. Lookups return ``None`` for unknown names.

``DEFAULT`` holds the built-in kinds. A registry is filled at start-up (``register``) and read afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """One resource type as served by the apiserver."""

    group: str
    version: str
    kind: str
    resource: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""  # defaults to the lower-cased kind
    list_kind: str = ""  # defaults to kind + "List"
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __hash__(self) -> int:
        # Kinds key the apiserver's caches and are hashed several times per request: three fields say
        # which resource it is (equal kinds agree on them), so the other seven need not be hashed.
        return hash((self.group, self.version, self.resource))

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if not self.list_kind:
            object.__setattr__(self, "list_kind", self.kind + "List")

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path_prefix(self) -> str:
        """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified_resource(self) -> str:
        """``pods``, ``deployments.apps``: the ``resource.group`` form of error messages and RBAC."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def path(
        self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path of the collection, of one object, or of its subresource.

        ``namespace`` is ignored for cluster-scoped kinds; ``None`` lists across all namespaces.
        """
        parts = [self.path_prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.resource)
        if name is not None:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)

    def names(self) -> tuple[str, ...]:
        """Every bare name ``kubectl`` accepts for this kind."""
        return (self.resource, self.singular, *self.short_names, self.kind.lower())


class Registry:
    """Kinds indexed for every lookup. Register at start-up, then only read (no locking)."""

    def __init__(self, kinds: Iterable[Kind] = ()) -> None:
        self._kinds: list[Kind] = []
        self._by_resource: dict[tuple[str, str, str], Kind] = {}
        self._by_gvk: dict[tuple[str, str], Kind] = {}
        self._by_name: dict[str, Kind] = {}
        self._by_group_name: dict[tuple[str, str], Kind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: Kind) -> None:
        """Add a kind; raises ``ValueError`` if its group, version and resource are taken."""
        key = (kind.group, kind.version, kind.resource)
        if key in self._by_resource:
            raise ValueError(f"resource {kind.qualified_resource} {kind.version} is already registered")
        self._kinds.append(kind)
        self._by_resource[key] = kind
        self._by_gvk.setdefault((kind.api_version, kind.kind), kind)
        for name in kind.names():
            self._by_name.setdefault(name, kind)
            self._by_group_name.setdefault((kind.group, name), kind)
        self._by_name.setdefault(kind.kind, kind)

    def by_resource(self, group: str, version: str, resource: str) -> Kind | None:
        """The kind served at ``/apis/<group>/<version>/<resource>``."""
        return self._by_resource.get((group, version, resource))

    def by_kind(self, api_version: str, kind: str) -> Kind | None:
        """The kind of an object with this ``apiVersion`` and ``kind``."""
        return self._by_gvk.get((api_version, kind))

    def lookup(self, name: str) -> Kind | None:
        """Resolve a name as ``kubectl get <name>`` does: bare, ``name.group`` or ``name.version.group``."""
        found = self._by_name.get(name) or self._by_name.get(name.lower())
        if found is not None:
            return found
        bare, _, rest = name.partition(".")
        bare = bare.lower()
        found = self._by_group_name.get((rest, bare))
        if found is not None or not rest:
            return found
        version, _, group = rest.partition(".")
        candidate = self._by_group_name.get((group, bare))
        return self._by_resource.get((group, version, candidate.resource)) if candidate else None

    def groups(self) -> tuple[str, ...]:
        """API group names in registration order (``""`` is the core group)."""
        return tuple(dict.fromkeys(k.group for k in self._kinds))

    def versions(self, group: str) -> tuple[str, ...]:
        """Versions served for a group, in registration order."""
        return tuple(dict.fromkeys(k.version for k in self._kinds if k.group == group))

    def group_versions(self) -> tuple[str, ...]:
        """Every ``apiVersion`` served (``v1``, ``apps/v1``, ...)."""
        return tuple(dict.fromkeys(k.api_version for k in self._kinds))

    def kinds_in(self, group: str, version: str) -> tuple[Kind, ...]:
        """The kinds of one group version, as its discovery document lists them."""
        return tuple(k for k in self._kinds if k.group == group and k.version == version)

    def in_category(self, category: str) -> tuple[Kind, ...]:
        """The kinds in a category (``kubectl get all``)."""
        return tuple(k for k in self._kinds if category in k.categories)

    def __iter__(self) -> Iterator[Kind]:
        return iter(tuple(self._kinds))

    def __len__(self) -> int:
        return len(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds


_ALL = ("all",)

BUILTIN: tuple[Kind, ...] = (
    # core/v1
    Kind(
        group="",
        version="v1",
        kind="Pod",
        resource="pods",
        namespaced=True,
        short_names=("po",),
        categories=_ALL,
        subresources=(
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "ephemeralcontainers",
            "resize",
        ),
    ),
    Kind(
        group="",
        version="v1",
        kind="Binding",
        resource="bindings",
        namespaced=True,
    ),
    Kind(
        group="",
        version="v1",
        kind="Node",
        resource="nodes",
        namespaced=False,
        short_names=("no",),
        subresources=("status", "proxy"),
    ),
    Kind(
        group="",
        version="v1",
        kind="Service",
        resource="services",
        namespaced=True,
        short_names=("svc",),
        categories=_ALL,
        subresources=("status", "proxy"),
    ),
    Kind(
        group="",
        version="v1",
        kind="Endpoints",
        resource="endpoints",
        namespaced=True,
        short_names=("ep",),
        singular="endpoints",
    ),
    Kind(
        group="",
        version="v1",
        kind="Namespace",
        resource="namespaces",
        namespaced=False,
        short_names=("ns",),
        subresources=("status", "finalize"),
    ),
    Kind(group="", version="v1", kind="Event", resource="events", namespaced=True, short_names=("ev",)),
    Kind(
        group="", version="v1", kind="ConfigMap", resource="configmaps", namespaced=True, short_names=("cm",)
    ),
    Kind(group="", version="v1", kind="Secret", resource="secrets", namespaced=True),
    Kind(
        group="",
        version="v1",
        kind="ServiceAccount",
        resource="serviceaccounts",
        namespaced=True,
        short_names=("sa",),
        subresources=("token",),
    ),
    Kind(
        group="",
        version="v1",
        kind="ReplicationController",
        resource="replicationcontrollers",
        namespaced=True,
        short_names=("rc",),
        categories=_ALL,
        subresources=("status", "scale"),
    ),
    Kind(
        group="",
        version="v1",
        kind="PersistentVolumeClaim",
        resource="persistentvolumeclaims",
        namespaced=True,
        short_names=("pvc",),
        subresources=("status",),
    ),
    # apps/v1
    Kind(
        group="apps",
        version="v1",
        kind="Deployment",
        resource="deployments",
        namespaced=True,
        short_names=("deploy",),
        categories=_ALL,
        subresources=("status", "scale"),
    ),
    Kind(
        group="apps",
        version="v1",
        kind="ReplicaSet",
        resource="replicasets",
        namespaced=True,
        short_names=("rs",),
        categories=_ALL,
        subresources=("status", "scale"),
    ),
    Kind(
        group="apps",
        version="v1",
        kind="StatefulSet",
        resource="statefulsets",
        namespaced=True,
        short_names=("sts",),
        categories=_ALL,
        subresources=("status", "scale"),
    ),
    Kind(
        group="apps",
        version="v1",
        kind="DaemonSet",
        resource="daemonsets",
        namespaced=True,
        short_names=("ds",),
        categories=_ALL,
        subresources=("status",),
    ),
    Kind(
        group="apps", version="v1", kind="ControllerRevision", resource="controllerrevisions", namespaced=True
    ),
    # batch/v1
    Kind(
        group="batch",
        version="v1",
        kind="Job",
        resource="jobs",
        namespaced=True,
        categories=_ALL,
        subresources=("status",),
    ),
    Kind(
        group="batch",
        version="v1",
        kind="CronJob",
        resource="cronjobs",
        namespaced=True,
        short_names=("cj",),
        categories=_ALL,
        subresources=("status",),
    ),
    # autoscaling/v2
    Kind(
        group="autoscaling",
        version="v2",
        kind="HorizontalPodAutoscaler",
        resource="horizontalpodautoscalers",
        namespaced=True,
        short_names=("hpa",),
        categories=_ALL,
        subresources=("status",),
    ),
    Kind(
        group="discovery.k8s.io",
        version="v1",
        kind="EndpointSlice",
        resource="endpointslices",
        namespaced=True,
    ),
    Kind(group="coordination.k8s.io", version="v1", kind="Lease", resource="leases", namespaced=True),
    Kind(
        group="scheduling.k8s.io",
        version="v1",
        kind="PriorityClass",
        resource="priorityclasses",
        namespaced=False,
        short_names=("pc",),
    ),
    Kind(
        group="networking.k8s.io",
        version="v1",
        kind="NetworkPolicy",
        resource="networkpolicies",
        namespaced=True,
        short_names=("netpol",),
    ),
    Kind(group="rbac.authorization.k8s.io", version="v1", kind="Role", resource="roles", namespaced=True),
    Kind(
        group="rbac.authorization.k8s.io",
        version="v1",
        kind="ClusterRole",
        resource="clusterroles",
        namespaced=False,
    ),
    Kind(
        group="rbac.authorization.k8s.io",
        version="v1",
        kind="RoleBinding",
        resource="rolebindings",
        namespaced=True,
    ),
    Kind(
        group="rbac.authorization.k8s.io",
        version="v1",
        kind="ClusterRoleBinding",
        resource="clusterrolebindings",
        namespaced=False,
    ),
    # Reviews: create-only and never stored; the apiserver answers them from its authenticator and authorizer
    Kind(
        group="authentication.k8s.io",
        version="v1",
        kind="TokenReview",
        resource="tokenreviews",
        namespaced=False,
    ),
    Kind(
        group="authentication.k8s.io",
        version="v1",
        kind="SelfSubjectReview",
        resource="selfsubjectreviews",
        namespaced=False,
    ),
    Kind(
        group="authorization.k8s.io",
        version="v1",
        kind="SubjectAccessReview",
        resource="subjectaccessreviews",
        namespaced=False,
    ),
    Kind(
        group="authorization.k8s.io",
        version="v1",
        kind="SelfSubjectAccessReview",
        resource="selfsubjectaccessreviews",
        namespaced=False,
    ),
    Kind(
        group="authorization.k8s.io",
        version="v1",
        kind="SelfSubjectRulesReview",
        resource="selfsubjectrulesreviews",
        namespaced=False,
    ),
    Kind(
        group="authorization.k8s.io",
        version="v1",
        kind="LocalSubjectAccessReview",
        resource="localsubjectaccessreviews",
        namespaced=True,
    ),
    # metrics.k8s.io/v1beta1 (metrics-server's aggregated API); registered last so bare "pods" stays core
    Kind(group="metrics.k8s.io", version="v1beta1", kind="PodMetrics", resource="pods", namespaced=True),
    Kind(group="metrics.k8s.io", version="v1beta1", kind="NodeMetrics", resource="nodes", namespaced=False),
)

DEFAULT = Registry(BUILTIN)
"""The registry of the built-in kinds."""
