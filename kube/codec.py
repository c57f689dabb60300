"""The one codec for Kubernetes-shaped objects: JSON on the API, msgpack in the store, YAML in manifests.

Objects are plain JSON data (dict with str keys, list, str, int, float, bool, None). What this module
promises:

- Encoding and decoding are thin wrappers over C libraries (``json``'s C scanner, ``msgpack``, libyaml when
  present); nothing here walks an object in Python except YAML's key clean-up.
- Every field survives a round trip through any of the three formats, known to kubemu or not.
- Malformed input raises ``CodecError`` with a message that says where (line and column for JSON and YAML)
  and what, never a bare ``ValueError`` from a library.
- JSON is compact UTF-8 with no ``NaN`` or ``Infinity`` (Go's ``encoding/json`` accepts neither).
- ``load_yaml_documents`` reads multi-document manifests as ``kubectl apply -f`` does: empty documents are
  skipped, ``kind: List`` (and any ``*List`` with ``items``) is expanded into its items, and timestamps
  stay strings as ``sigs.k8s.io/yaml`` leaves them.
- ``dump_yaml`` prints as ``kubectl get -o yaml``: block style, keys in insertion order, strings that would
  read back as another type double-quoted (``"1"``, ``"true"``, timestamps), multi-line strings as ``|``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import msgpack
import yaml

from kube import errors

JSON_MEDIA_TYPE = "application/json"
YAML_MEDIA_TYPE = "application/yaml"
MSGPACK_MEDIA_TYPE = "application/msgpack"

_JSON_TYPES = frozenset(
    {
        JSON_MEDIA_TYPE,
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
    }
)
_YAML_TYPES = frozenset({YAML_MEDIA_TYPE, "application/apply-patch+yaml", "application/x-yaml", "text/yaml"})
_MSGPACK_TYPES = frozenset({MSGPACK_MEDIA_TYPE, "application/x-msgpack", "application/vnd.msgpack"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def to_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; ``CodecError`` for NaN, infinities or values that are not JSON data."""
    try:
        return _JSON_ENCODER.encode(obj).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise errors.CodecError(f"json: unsupported value: {e}") from e


def from_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON value; ``CodecError`` naming line and column when the text is not JSON."""
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.CodecError(f"json: invalid UTF-8 at byte offset {e.start}") from e
    try:
        return _JSON_DECODER.decode(text)
    except json.JSONDecodeError as e:
        raise errors.CodecError(f"json: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except ValueError as e:  # NaN, Infinity
        raise errors.CodecError(f"json: {e}") from e
    except RecursionError as e:
        raise errors.CodecError("json: exceeded max depth") from e


_PACKERS = threading.local()  # reusable Packers per thread: ``packb`` builds a new one per call


def _packer() -> msgpack.Packer:
    packer: msgpack.Packer | None = getattr(_PACKERS, "packer", None)
    if packer is None:
        packer = _PACKERS.packer = msgpack.Packer(use_bin_type=True)
    return packer


def _exact_packer() -> msgpack.Packer:
    packer: msgpack.Packer | None = getattr(_PACKERS, "exact", None)
    if packer is None:
        packer = _PACKERS.exact = msgpack.Packer(use_bin_type=True, strict_types=True)
    return packer


def to_msgpack(obj: Any) -> bytes:
    """msgpack with str as str and bytes as bin (``use_bin_type``); ``CodecError`` for other types."""
    try:
        data: bytes = _packer().pack(obj)  # the packer empties its buffer after each call, or a failure
    except (TypeError, ValueError, OverflowError) as e:
        raise errors.CodecError(f"msgpack: cannot encode: {e}") from e
    return data


def to_msgpack_exact(obj: Any) -> bytes | None:
    """``to_msgpack`` of data made of the exact types only (dict, list, str, bytes, int, float, bool, None;
    no tuple, no subclass such as a ``StrEnum``), so that ``from_msgpack`` gives back data equal to ``obj``
    type for type and in the same key order; None for anything else (``to_msgpack`` encodes it the same
    way, but decoding would turn a tuple into a list, a subclass into its base)."""
    try:
        data: bytes = _exact_packer().pack(obj)
    except (TypeError, ValueError, OverflowError):
        return None
    return data


def from_msgpack(data: bytes | bytearray | memoryview) -> Any:
    """Decode msgpack written by ``to_msgpack``.

    Map keys are str by contract (objects are JSON data); they are not checked again here, as that would
    cost a walk of every stored object on the read path.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise errors.CodecError(f"msgpack: cannot decode: {e}") from e


_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """YAML 1.1 as ``sigs.k8s.io/yaml`` reads it: timestamps stay strings, map keys become strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        # Keys are turned into text before they meet in one dict, so `1:` and `true:` stay two keys.
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, dict | list):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unacceptable key",
                    key_node.start_mark,
                )
            mapping[key if type(key) is str else _key_text(key)] = self.construct_object(
                value_node, deep=deep
            )
        return mapping


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _yaml_error(e: yaml.YAMLError, document: int | None = None) -> errors.CodecError:
    mark = getattr(e, "problem_mark", None)
    said = [getattr(e, "context", None), getattr(e, "problem", None)]
    problem = " ".join(part for part in said if part) or str(e)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    which = f" (document {document})" if document is not None else ""
    return errors.CodecError(f"error converting YAML to JSON: yaml: {where}{problem}{which}")


def load_yaml(text: str | bytes) -> Any:
    """Decode a single YAML document (a request body or one manifest)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise _yaml_error(e) from e


def load_yaml_documents(text: str | bytes) -> list[dict[str, Any]]:
    """Every object in a multi-document manifest, in order, with lists expanded as kubectl does.

    Documents are counted from 0, empty ones included, in error messages.
    """
    objects: list[dict[str, Any]] = []
    index = 0
    documents = yaml.load_all(text, Loader=_Loader)
    while True:
        try:
            document = next(documents)
        except StopIteration:
            break
        except yaml.YAMLError as e:
            raise _yaml_error(e, index) from e
        if document is not None:
            if not isinstance(document, dict):
                raise errors.CodecError(
                    f"document {index} is a {_type_name(document)}, not an object with apiVersion and kind"
                )
            _expand_lists(document, objects)
        index += 1
    return objects


def _expand_lists(obj: dict[str, Any], into: list[dict[str, Any]]) -> None:
    items = obj.get("items")
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                raise errors.CodecError(f"items of {kind} must be objects, got a {_type_name(item)}")
            _expand_lists(item, into)
    else:
        into.append(obj)


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Block-style YAML with go-yaml's choice of string styles."""


def _represent_str(dumper: Any, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in value:
        style = "|"
    elif dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'
    node: yaml.ScalarNode = dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)
    return node


_Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any) -> str:
    """YAML text as ``kubectl get -o yaml`` prints it (no line folding, keys unsorted)."""
    try:
        text: str = yaml.dump(
            obj,
            Dumper=_Dumper,
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=True,
            width=2**31 - 1,
        )
    except yaml.YAMLError as e:
        raise errors.CodecError(f"yaml: cannot encode: {e}") from e
    return text


def media_type_of(content_type: str | None) -> str:
    """The bare media type of a Content-Type header: lower case, parameters dropped, JSON when missing."""
    if not content_type:
        return JSON_MEDIA_TYPE
    return content_type.split(";", 1)[0].strip().lower() or JSON_MEDIA_TYPE


def decode_body(data: bytes, content_type: str | None) -> Any:
    """Decode a request body by its Content-Type: JSON (the default, and every patch type), YAML, msgpack."""
    media_type = media_type_of(content_type)
    if media_type in _JSON_TYPES:
        return from_json(data)
    if media_type in _YAML_TYPES:
        return load_yaml(data)
    if media_type in _MSGPACK_TYPES:
        return from_msgpack(data)
    raise errors.CodecError(
        f'the body of the request was in an unknown format "{media_type}" - accepted media types include: '
        f"{JSON_MEDIA_TYPE}, {YAML_MEDIA_TYPE}, {MSGPACK_MEDIA_TYPE}"
    )
