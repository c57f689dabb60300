"""What every server-side printer shares: column definitions, the printer record, and cell formatting.

A ``Printer`` is one kind's ``kubectl get`` view, as upstream's ``pkg/printers/internalversion`` defines
it: its columns (``priority`` 0 for the default view, 1 for ``-o wide``) and a pure function from an
object and the current time to the row's cells. The server always fills every column, wide ones
included, and the client hides what it does not show, as upstream's table convertor does.

Printers read objects as the API stores them. Where upstream prints from its internal types, fields that
defaulting always sets (``spec.replicas``, a Service's ``type``) read as their default when absent, so
an object that skipped defaulting still prints as ``kubectl`` would show it once stored. Nothing here
reads a clock: ``now`` is epoch seconds, passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kube import errors, labels, meta, quantity

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null "
    "for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
CONTAINERS_DESCRIPTION = "Names of each container in the template."
IMAGES_DESCRIPTION = "Images referenced by each container in the template."


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """``metav1.TableColumnDefinition``: ``type`` is an OpenAPI type, ``format`` a hint such as ``name``."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; every member is written, empty ones included, as upstream's encoder does."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME = Column(name="Name", format="name", description=NAME_DESCRIPTION)
AGE = Column(name="Age", description=AGE_DESCRIPTION)
CONTAINERS = Column(name="Containers", priority=1, description=CONTAINERS_DESCRIPTION)
IMAGES = Column(name="Images", priority=1, description=IMAGES_DESCRIPTION)

Cells = Callable[[Mapping[str, Any], float], list[Any]]
Conditions = Callable[[Mapping[str, Any]], list[dict[str, str]]]


def _no_conditions(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    return []


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Printer:
    """One kind's table view: its columns and how to fill a row (and the row's conditions, for pods)."""

    columns: tuple[Column, ...]
    cells: Cells
    conditions: Conditions = _no_conditions


def field(obj: Mapping[str, Any] | None, *path: str) -> Any:
    """The value at ``path`` in nested dicts, or ``None`` when any step is missing or not a dict."""
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def items(obj: Mapping[str, Any] | None, *path: str) -> list[Any]:
    """The list at ``path``, or ``[]`` when it is absent or null."""
    value = field(obj, *path)
    return value if isinstance(value, list) else []


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``: ~2-3 significant figures (``90s``, ``3m2s``, ``2d3h``).

    Up to two seconds in the future reads as ``0s`` (clock skew); further is ``<invalid>``.
    """
    ns = round(seconds * 1_000_000_000)
    whole_seconds = ns // 1_000_000_000 if ns >= 0 else -((-ns) // 1_000_000_000)
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 60 * 2:
        return f"{whole_seconds}s"
    minutes = ns // 60_000_000_000
    if minutes < 10:
        s = whole_seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(text: object) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp; ``None`` for an absent (zero) or unreadable one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return meta.parse_rfc3339(text)
    except errors.ValidationError:
        return None


def since(timestamp: object, now: float) -> str:
    """``translateTimestampSince``: how long ago, or ``<unknown>`` for a zero timestamp."""
    at = parse_time(timestamp)
    return "<unknown>" if at is None else human_duration(now - at)


def age(obj: Mapping[str, Any], now: float) -> str:
    """The AGE cell: time since ``metadata.creationTimestamp``."""
    return since(field(obj, "metadata", "creationTimestamp"), now)


def name_of(obj: Mapping[str, Any]) -> str:
    """``metadata.name``, ``""`` when absent."""
    return str(field(obj, "metadata", "name") or "")


def format_labels(values: Mapping[str, str] | None) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not values:
        return "<none>"
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``LabelSelectorAsSelector(...).String()``; raises ``SelectorError`` for a selector that is invalid."""
    return str(labels.from_label_selector(selector))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the selector, ``<none>`` when empty, ``<error>`` when invalid."""
    try:
        text = selector_string(selector)
    except errors.SelectorError:
        return "<error>"
    return text or "<none>"


def container_cells(containers: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, each comma-joined."""
    listed = list(containers)
    names = ",".join(str(c.get("name") or "") for c in listed)
    images = ",".join(str(c.get("image") or "") for c in listed)
    return names, images


def quantity_string(value: object) -> str:
    """A quantity as ``resource.Quantity.String()`` prints it (canonical), ``<nil>`` when absent."""
    if value is None:
        return "<nil>"
    try:
        return str(quantity.parse(str(value)))
    except errors.QuantityError:
        return str(value)


def list_with_more(values: list[str], *, limit: int, empty: str) -> str:
    """Up to ``limit`` values comma-joined, then `` + N more...``; ``empty`` when there are none."""
    if len(values) > limit:
        return f"{','.join(values[:limit])} + {len(values) - limit} more..."
    return ",".join(values) or empty


def print_bool(value: object) -> str:
    """``printBoolPtr``: ``True``/``False``, ``<unset>`` when absent."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def int_or(value: object, default: int = 0) -> int:
    """An integer field, ``default`` when absent or not a number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def condition_status(conditions: Iterable[Mapping[str, Any]], type_: str) -> str | None:
    """The ``status`` of the first condition of ``type_``, ``None`` when there is none."""
    for condition in conditions:
        if condition.get("type") == type_:
            return str(condition.get("status") or "")
    return None
