"""Server-side printing: the ``meta.k8s.io/v1`` ``Table`` answered for ``Accept: application/json;as=Table;
g=meta.k8s.io;v=v1``, which is what ``kubectl get`` asks for and prints.

What this module promises:

- ``table`` is pure: objects and ``now`` (epoch seconds) in, a JSON-shaped dict out, sharing no dict or
  list with its inputs. It reads no clock; ``AGE`` and the other durations are computed from ``now``.
- Every kind with a printer upstream that kubemu serves gets upstream's columns and cells (the
  ``printers_*`` modules); any other kind gets upstream's default table, ``Name`` and ``Created At``.
- Rows hold every column, ``-o wide`` ones (priority 1) included, as upstream's server fills them;
  ``kubectl`` hides columns by priority. ``no_headers`` leaves ``columnDefinitions`` null, as a watch does
  after its first event.
- ``include_object`` is the ``includeObject`` query parameter: ``Metadata`` (the default) puts a
  ``PartialObjectMetadata`` in each row, ``Object`` the whole object, ``None`` nothing; anything else is
  a 400 ``ApiError``, as upstream answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actors.apiserver import printers_apps, printers_core, printers_other, printers_pods, status
from actors.apiserver.printers_common import (
    AGE_DESCRIPTION,
    NAME_DESCRIPTION,
    Column,
    Printer,
    field,
    name_of,
    parse_time,
)
from kube import kinds, meta

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): printers_pods.PRINTER,
    **printers_core.PRINTERS,
    **printers_apps.PRINTERS,
    **printers_other.PRINTERS,
}
"""Printers by (API group, resource)."""

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, what the default table prints for none


def _default_cells(obj: Mapping[str, Any], now: float) -> list[Any]:
    created = parse_time(field(obj, "metadata", "creationTimestamp"))
    return [name_of(obj), _ZERO_TIME if created is None else meta.now_rfc3339(created)]


DEFAULT_PRINTER = Printer(
    columns=(
        Column(name="Name", format="name", description=NAME_DESCRIPTION),
        Column(name="Created At", type="date", description=AGE_DESCRIPTION),
    ),
    cells=_default_cells,
)
"""Upstream's default table convertor: name and creation time (RFC 3339), for kinds without a printer."""

_INCLUDE_OBJECT = ("", "None", "Metadata", "Object")


def printer_for(kind: kinds.Kind) -> Printer:
    """The printer of a kind, or the default one."""
    return PRINTERS.get((kind.group, kind.resource), DEFAULT_PRINTER)


def table(
    kind: kinds.Kind,
    objects: Sequence[Mapping[str, Any]],
    *,
    now: float,
    include_object: str = "Metadata",
    list_meta: Mapping[str, Any] | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """The ``Table`` of ``objects`` (all of ``kind``), one row each, in order.

    ``list_meta`` is the list's ``metadata`` (``resourceVersion``, ``continue``, ``remainingItemCount``);
    without it the table is of one object (a GET) and carries that object's ``resourceVersion``.
    Raises ``status.ApiError`` (400) for an unknown ``include_object``.
    """
    if include_object not in _INCLUDE_OBJECT:
        raise status.bad_request(f"unrecognized includeObject value: {status.quote(include_object)}")
    printer = printer_for(kind)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.cells(obj, now)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _table_meta(objects, list_meta),
        "columnDefinitions": None if no_headers else [c.to_dict() for c in printer.columns],
        "rows": rows,
    }


def _row_object(obj: Mapping[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return meta.deep_copy(dict(obj))
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta.deep_copy(dict(obj.get("metadata") or {})),
    }


def _table_meta(objects: Sequence[Mapping[str, Any]], list_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metav1.ListMeta`` of the table, its empty members left out as upstream's encoder does."""
    if list_meta is None:
        version = field(objects[0], "metadata", "resourceVersion") if len(objects) == 1 else None
        return {"resourceVersion": version} if version else {}
    out: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        if list_meta.get(key) not in (None, ""):
            out[key] = list_meta[key]
    return out
