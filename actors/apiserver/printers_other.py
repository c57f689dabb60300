"""Table printers of the remaining built-in groups: role bindings (``rbac.authorization.k8s.io``), leases
(``coordination.k8s.io``), network policies (``networking.k8s.io``) and endpoint slices
(``discovery.k8s.io``).

Columns and cells follow upstream's ``pkg/printers/internalversion/printers.go`` (Kubernetes 1.32). Roles
and cluster roles have no printer upstream either: they get the default ``NAME CREATED AT`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.apiserver.printers_common import (
    AGE,
    NAME,
    Column,
    Printer,
    age,
    field,
    format_label_selector,
    items,
    list_with_more,
    name_of,
)


def subjects_strings(subjects: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """``rbac.SubjectsStrings``: user names, group names and ``namespace/name`` of service accounts."""
    users, groups, accounts = [], [], []
    for subject in subjects:
        kind, name = subject.get("kind"), str(subject.get("name") or "")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace') or ''}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return users, groups, accounts


def _binding_cells(binding: Mapping[str, Any], now: float) -> list[Any]:
    ref = binding.get("roleRef") or {}
    users, groups, accounts = subjects_strings(items(binding, "subjects"))
    return [
        name_of(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _binding_columns(kind: str, role_ref: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column(name="Role", description=role_ref),
        AGE,
        Column(name="Users", priority=1, description=f"Users in the {kind}"),
        Column(name="Groups", priority=1, description=f"Groups in the {kind}"),
        Column(name="ServiceAccounts", priority=1, description=f"ServiceAccounts in the {kind}"),
    )


def _lease_cells(lease: Mapping[str, Any], now: float) -> list[Any]:
    return [name_of(lease), field(lease, "spec", "holderIdentity") or "", age(lease, now)]


def _network_policy_cells(policy: Mapping[str, Any], now: float) -> list[Any]:
    # podSelector is required; an absent one reads as the empty selector, which selects every pod.
    selector = field(policy, "spec", "podSelector") or {}
    return [name_of(policy), format_label_selector(selector), age(policy, now)]


def _endpoint_slice_cells(slice_: Mapping[str, Any], now: float) -> list[Any]:
    ports = []
    for port in items(slice_, "ports"):
        number, name = port.get("port"), port.get("name")
        ports.append(str(number) if number is not None else name if name is not None else "*")
    addresses = [str(a) for endpoint in items(slice_, "endpoints") for a in items(endpoint, "addresses")]
    return [
        name_of(slice_),
        slice_.get("addressType") or "",
        list_with_more(ports, limit=3, empty="<unset>"),
        list_with_more(addresses, limit=3, empty="<unset>"),
        age(slice_, now),
    ]


def _priority_class_cells(pc: Mapping[str, Any], now: float) -> list[Any]:
    return [
        name_of(pc),
        pc.get("value", 0),
        bool(pc.get("globalDefault")),
        age(pc, now),
        pc.get("preemptionPolicy") or "",
    ]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(
        columns=_binding_columns(
            "roleBinding",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. "
            "If the RoleRef cannot be resolved, the Authorizer must return an error.",
        ),
        cells=_binding_cells,
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(
        columns=_binding_columns(
            "clusterRoleBinding",
            "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be "
            "resolved, the Authorizer must return an error.",
        ),
        cells=_binding_cells,
    ),
    ("scheduling.k8s.io", "priorityclasses"): Printer(
        columns=(
            NAME,
            Column(
                name="Value",
                type="integer",
                description="value represents the integer value of this priority class.",
            ),
            Column(
                name="Global-Default",
                type="boolean",
                description="globalDefault specifies whether this "
                "PriorityClass should be considered as the default priority.",
            ),
            AGE,
            Column(
                name="PreemptionPolicy",
                description="preemptionPolicy is the Policy for preempting pods with lower priority.",
            ),
        ),
        cells=_priority_class_cells,
    ),
    ("coordination.k8s.io", "leases"): Printer(
        columns=(
            NAME,
            Column(
                name="Holder",
                description="holderIdentity contains the identity of the holder of a current lease.",
            ),
            AGE,
        ),
        cells=_lease_cells,
    ),
    ("networking.k8s.io", "networkpolicies"): Printer(
        columns=(
            NAME,
            Column(
                name="Pod-Selector",
                description="Selects the pods to which this NetworkPolicy object applies.",
            ),
            AGE,
        ),
        cells=_network_policy_cells,
    ),
    ("discovery.k8s.io", "endpointslices"): Printer(
        columns=(
            NAME,
            Column(
                name="AddressType",
                description="addressType specifies the type of address carried by this EndpointSlice.",
            ),
            Column(
                name="Ports",
                description="ports specifies the list of network ports exposed by each endpoint in this "
                "slice.",
            ),
            Column(name="Endpoints", description="endpoints is a list of unique endpoints in this slice."),
            AGE,
        ),
        cells=_endpoint_slice_cells,
    ),
}
