"""Strategic merge patch, the Kubernetes-only patch type, and the merge-key table it reads.

What this module promises:

- ``strategic_merge_patch`` follows apimachinery's ``strategicpatch`` (``...strategic-merge-patch+json``):
  lists with a ``patchStrategy:"merge"`` tag in ``k8s.io/api`` merge by their ``patchMergeKey`` (or as a set
  when they hold strings), every other list is replaced, maps merge. Directives: ``$patch`` (replace,
  delete), ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>``. Merged
  lists come out in upstream's order: patch items in patch order, with the items only the target had
  kept in their relative places.
- It is pure: the target and the patch are never changed, and the result shares no dict or list with
  either, so a caller may mutate it freely. Failures raise ``PatchError`` worded as upstream words them.
- ``PATCH_META`` holds the merge keys as data, per kind, so a kind is one table entry; kinds not listed get
  ``ObjectMeta``'s rules only.

JSON merge patch and JSON patch live in ``kube.patch``; this module takes its JSON equality from there.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from kube import errors
from kube.meta import deep_copy

# Imported by name: "patch" is the natural parameter name throughout this module and would shadow the module.
from kube.patch import json_equal

# ---------------------------------------------------------------------------------------------------------
# The merge-key table


class PatchStrategy(enum.StrEnum):
    """The values of a ``patchStrategy`` struct tag in ``k8s.io/api``."""

    MERGE = "merge"
    REPLACE = "replace"
    RETAIN_KEYS = "retainKeys"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldPatchMeta:
    """A field's ``patchStrategy`` and ``patchMergeKey`` tags; an empty merge key means a list of scalars."""

    strategies: frozenset[PatchStrategy]
    merge_key: str = ""


def _merge(key: str = "", *, retain_keys: bool = False) -> FieldPatchMeta:
    strategies = {PatchStrategy.MERGE, PatchStrategy.RETAIN_KEYS} if retain_keys else {PatchStrategy.MERGE}
    return FieldPatchMeta(strategies=frozenset(strategies), merge_key=key)


_REPLACE = FieldPatchMeta(strategies=frozenset({PatchStrategy.REPLACE}))
_RETAIN_KEYS = FieldPatchMeta(strategies=frozenset({PatchStrategy.RETAIN_KEYS}))

# A path is the field names from the object's root; list items are traversed without a token, so
# ("spec", "containers", "ports") is the ports of every container.
Path = tuple[str, ...]
_Table = dict[Path, FieldPatchMeta]


def _under(prefix: Path, table: Mapping[Path, FieldPatchMeta]) -> dict[Path, FieldPatchMeta]:
    return {prefix + path: meta for path, meta in table.items()}


_OBJECT_META: _Table = {("ownerReferences",): _merge("uid"), ("finalizers",): _merge()}
_CONTAINER: _Table = {
    ("ports",): _merge("containerPort"),
    ("env",): _merge("name"),
    ("volumeMounts",): _merge("mountPath"),
    ("volumeDevices",): _merge("devicePath"),
}
_POD_SPEC: _Table = {
    ("volumes",): _merge("name", retain_keys=True),
    ("initContainers",): _merge("name"),
    ("containers",): _merge("name"),
    ("ephemeralContainers",): _merge("name"),
    **_under(("initContainers",), _CONTAINER),
    **_under(("containers",), _CONTAINER),
    **_under(("ephemeralContainers",), _CONTAINER),
    ("imagePullSecrets",): _merge("name"),
    ("hostAliases",): _merge("ip"),
    ("topologySpreadConstraints",): _merge("topologyKey"),
    ("schedulingGates",): _merge("name"),
    ("resourceClaims",): _merge("name", retain_keys=True),
    ("evictionResponders",): _merge("name"),
}
_POD_STATUS: _Table = {
    ("conditions",): _merge("type"),
    ("hostIPs",): _merge("ip"),
    ("podIPs",): _merge("ip"),
    ("resourceClaimStatuses",): _merge("name", retain_keys=True),
    ("nodeAllocatableResourceClaimStatuses",): _merge("resourceClaimName"),
    ("nodeAllocatableResourceClaimStatuses", "mapping"): _merge("name"),
    ("nodeAllocatableResourceClaimStatuses", "overhead"): _merge("name"),
}
_POD_TEMPLATE: _Table = {**_under(("metadata",), _OBJECT_META), **_under(("spec",), _POD_SPEC)}
_CONDITIONS: _Table = {("status", "conditions"): _merge("type")}
_WORKLOAD: _Table = {**_under(("spec", "template"), _POD_TEMPLATE), **_CONDITIONS}

_COMMON = _under(("metadata",), _OBJECT_META)
_KINDS: dict[str, _Table] = {
    "Pod": {**_under(("spec",), _POD_SPEC), **_under(("status",), _POD_STATUS)},
    "PodTemplate": _under(("template",), _POD_TEMPLATE),
    "ReplicationController": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "Deployment": {**_WORKLOAD, ("spec", "strategy"): _RETAIN_KEYS},
    "StatefulSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "Job": {**_WORKLOAD, ("spec", "schedulingConfiguration", "resourceClaims"): _merge("name")},
    "CronJob": {
        **_under(("spec", "jobTemplate", "metadata"), _OBJECT_META),
        **_under(("spec", "jobTemplate", "spec", "template"), _POD_TEMPLATE),
    },
    "Service": {("spec", "ports"): _merge("port"), **_CONDITIONS},
    "ServiceAccount": {("secrets",): _merge("name")},
    "Node": {
        ("spec", "podCIDRs"): _merge(),
        ("status", "addresses"): _merge("type"),
        **_CONDITIONS,
    },
    "Namespace": _CONDITIONS,
    "PersistentVolumeClaim": _CONDITIONS,
    "ComponentStatus": {("conditions",): _merge("type")},
    "HorizontalPodAutoscaler": _CONDITIONS,
    "PodDisruptionBudget": {("spec", "selector"): _REPLACE, **_CONDITIONS},
    "ServiceCIDR": _CONDITIONS,
    "CSINode": {("spec", "drivers"): _merge("name")},
}
# Every kind gets ObjectMeta's rules; kinds not listed get only those.
PATCH_META: Mapping[str, Mapping[Path, FieldPatchMeta]] = {
    kind: {**_COMMON, **table} for kind, table in _KINDS.items()
}

# ---------------------------------------------------------------------------------------------------------
# Applying a patch (apimachinery's strategicpatch.mergeMap and mergeSlice)

_DIRECTIVE = "$patch"
_RETAIN_KEYS_DIRECTIVE = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
_SET_ELEMENT_ORDER = "$setElementOrder/"
_ORDER_OR_DELETE_LIST = (_SET_ELEMENT_ORDER, _DELETE_FROM_PRIMITIVE_LIST)
_DROP = object()  # what _fresh returns for a value carrying "$patch", which must not appear in the result


def strategic_merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of ``kind`` and return the new object."""
    if type(target) is not dict or type(patch) is not dict:
        raise errors.PatchError("invalid JSON document")
    table = PATCH_META.get(kind, _COMMON)
    return _merge_map(deep_copy(target), deep_copy(patch), (), table)


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: Path, table: Mapping[Path, FieldPatchMeta]
) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both already private copies; ``original`` is changed)."""
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise errors.PatchError(f"unknown patch type: {directive} in map: {patch}")
    if _RETAIN_KEYS_DIRECTIVE in patch:
        _retain_keys(original, patch)
    for key in [key for key in patch if key.startswith(_SET_ELEMENT_ORDER)]:
        _set_element_order(original, patch, key, path, table)
    for key, value in patch.items():
        delete_list = key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = key[len(_DELETE_FROM_PRIMITIVE_LIST) :]
            if not key or type(value) is not list:
                raise errors.PatchError("invalid patch format of primitive list")
        if value is None:
            original.pop(key, None)
            continue
        current: Any = original.get(key)
        if key not in original or _go_type(current) != _go_type(value):
            if not delete_list:
                fresh = _fresh(value)
                if fresh is _DROP:
                    original.pop(key, None)
                else:
                    original[key] = fresh
            continue
        field_path = (*path, key)
        meta = table.get(field_path)
        strategies = meta.strategies if meta else frozenset()
        if type(value) is dict:
            if PatchStrategy.REPLACE in strategies:
                original[key] = value
            else:
                original[key] = _merge_map(current, value, field_path, table)
        elif type(value) is list:
            if PatchStrategy.MERGE in strategies or delete_list:
                merge_key = meta.merge_key if meta else ""
                original[key] = _merge_list(current, value, field_path, merge_key, table, delete_list)
            else:
                original[key] = value
        else:
            original[key] = value
    return original


def _fresh(value: Any) -> Any:
    """A patch value with nothing under it to merge into: directives and null members dropped."""
    if type(value) is dict:
        if _DIRECTIVE in value:
            return _DROP
        out = {}
        for key, item in value.items():
            if item is None or key == _RETAIN_KEYS_DIRECTIVE or key.startswith(_ORDER_OR_DELETE_LIST):
                continue
            fresh = _fresh(item)
            if fresh is not _DROP:
                out[key] = fresh
        return out
    if type(value) is list:
        return [fresh for fresh in map(_fresh, value) if fresh is not _DROP]
    return value


def _go_type(value: Any) -> str:
    """The Go type ``encoding/json`` decodes a value to; upstream merges only values of the same type."""
    if type(value) is bool:
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    return type(value).__name__


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    retain = patch.pop(_RETAIN_KEYS_DIRECTIVE)
    if type(retain) is not list:
        raise errors.PatchError("invalid patch format of retainKeys")
    keep = set(retain)
    for key, value in patch.items():
        if value is not None and not key.startswith(_ORDER_OR_DELETE_LIST) and key not in keep:
            raise errors.PatchError("invalid patch format of retainKeys")
    for key in [key for key in original if key not in keep]:
        del original[key]


def _set_element_order(
    original: dict[str, Any],
    patch: dict[str, Any],
    directive: str,
    path: Path,
    table: Mapping[Path, FieldPatchMeta],
) -> None:
    order = patch.pop(directive)
    key = directive[len(_SET_ELEMENT_ORDER) :]
    if not key or type(order) is not list:
        raise errors.PatchError("invalid patch format of setElementOrder list")
    meta = table.get((*path, key))
    merge_key = meta.merge_key if meta else ""
    found_original, found_patch = key in original, key in patch
    if not found_original and not found_patch:
        return
    current, patch_list = original.get(key, []), patch.pop(key, [])
    if type(current) is not list or type(patch_list) is not list:
        raise errors.PatchError("invalid patch format of setElementOrder list")
    if not found_patch:
        merged = current
    elif not found_original:
        merged = _fresh(patch_list)
    elif meta is not None and PatchStrategy.MERGE in meta.strategies:
        merged = _merge_list(current, patch_list, (*path, key), merge_key, table, False)
    else:
        merged = patch_list
    in_order, server_only = _partition(merged, order, merge_key)
    original[key] = _normalize_order(in_order, server_only, order, current, merge_key)


def _merge_list(
    original: list[Any],
    patch: list[Any],
    path: Path,
    merge_key: str,
    table: Mapping[Path, FieldPatchMeta],
    delete_list: bool,
) -> list[Any]:
    if not original and not patch:
        return original
    kinds = {_go_type(item) for item in (*original, *patch)}
    if "list" in kinds:
        raise errors.PatchError("lists of lists are not supported")
    if len(kinds) > 1:
        raise errors.PatchError(f"list element types are not identical: {original} {patch}")
    if "dict" not in kinds:
        if delete_list:
            return [item for item in original if not any(json_equal(item, gone) for gone in patch)]
        merged: list[Any] = []
        for item in (*original, *patch):
            if not any(json_equal(item, seen) for seen in merged):
                merged.append(item)
        in_patch, server_only = _partition(merged, patch, "")
        return _normalize_order(in_patch, server_only, patch, original, "")
    if not merge_key:
        raise errors.PatchError(f"cannot merge lists without merge key for {'.'.join(path)}")
    original, patch = _special_elements(original, patch, merge_key)
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise errors.PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        at = _find(merged, merge_key, item[merge_key])
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, path, table)
        else:
            merged.append(_merge_map({}, item, path, table))
    in_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(in_patch, server_only, patch, original, merge_key)


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Apply list items carrying ``$patch`` (delete, replace); return what is left and the plain items."""
    plain, replace = [], False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise errors.PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
            original = [kept for kept in original if not json_equal(kept.get(merge_key), item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise errors.PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise errors.PatchError(f"unknown patch type: {directive} in map: {item}")
    return (plain, []) if replace else (original, plain)


def _identity(item: Any, merge_key: str) -> Any:
    return item.get(merge_key) if merge_key and type(item) is dict else item


def _find(items: list[Any], merge_key: str, value: Any) -> int:
    for at, item in enumerate(items):
        if merge_key in item and json_equal(item[merge_key], value):
            return at
    return -1


def _position(items: list[Any], item: Any, merge_key: str) -> int:
    wanted = _identity(item, merge_key)
    for at, candidate in enumerate(items):
        if json_equal(_identity(candidate, merge_key), wanted):
            return at
    return -1


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the items also in ``by`` and the rest (the server-only items)."""
    present: list[Any] = []
    absent: list[Any] = []
    for item in merged:
        (present if _position(by, item, merge_key) >= 0 else absent).append(item)
    return present, absent


def _normalize_order(
    in_patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
) -> list[Any]:
    """Upstream's ``normalizeElementOrder``: sort each part by its order, then interleave them."""

    def sort_by(items: list[Any], order: list[Any]) -> list[Any]:
        deletions = [i for i in items if type(i) is dict and i.get(_DIRECTIVE) == "delete"]
        kept = [i for i in items if not (type(i) is dict and i.get(_DIRECTIVE) == "delete")]
        ranks = [_position(order, item, merge_key) for item in kept]
        ranked = sorted(range(len(kept)), key=lambda i: (ranks[i] < 0, ranks[i]))
        return [kept[i] for i in ranked] + deletions

    left, right = sort_by(server_only, server_order), sort_by(in_patch, patch_order)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li, ri = _position(server_order, left[i], merge_key), _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
