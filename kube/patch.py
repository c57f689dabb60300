"""Two of the three patch types of the Kubernetes API: JSON merge patch and JSON patch.

What this module promises:

- Every function is pure: the target and the patch are never changed, and the result shares no dict or list
  with either, so a caller may mutate it freely.
- ``merge_patch`` is RFC 7386 (``application/merge-patch+json``): ``null`` deletes, objects merge
  recursively, anything else replaces. ``create_merge_patch`` is its inverse:
  ``merge_patch(a, create_merge_patch(a, b)) == b`` whenever ``b`` holds no ``null`` object member.
- ``json_patch`` is RFC 6902 (``application/json-patch+json``) with RFC 6901 pointers. Operations apply in
  order and all or nothing; failures raise ``PatchError`` worded as ``evanphx/json-patch`` words them.
- ``json_equal`` is JSON equality (``true`` is not ``1``), the one comparison every patch type uses; the
  third type, strategic merge patch, lives in ``kube.strategic_merge_patch`` and imports it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube import errors
from kube.meta import deep_copy

# ---------------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch and return the new document."""
    if type(patch) is not dict:
        return deep_copy(patch)
    result = deep_copy(target) if type(target) is dict else {}
    _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif type(value) is dict:
            current = target.get(key)
            if type(current) is not dict:
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = deep_copy(value)


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The smallest RFC 7386 patch that turns ``original`` into ``modified``."""
    if type(original) is not dict or type(modified) is not dict:
        return deep_copy(modified)
    patch: dict[str, Any] = {key: None for key in original if key not in modified}
    for key, value in modified.items():
        if key not in original:
            patch[key] = deep_copy(value)
        elif type(value) is dict and type(original[key]) is dict:
            nested = create_merge_patch(original[key], value)
            if nested:
                patch[key] = nested
        elif not json_equal(original[key], value):
            patch[key] = deep_copy(value)
    return patch


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: like ``==``, except that ``true`` is not ``1`` and ``false`` is not ``0``."""
    if (type(a) is bool) is not (type(b) is bool):
        return False
    if type(a) is dict:
        return type(b) is dict and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return (
            type(b) is list and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(b) is not dict and type(b) is not list and bool(a == b)


# ---------------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902) with JSON pointers (RFC 6901)


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise errors.PatchError(f'JSON pointer must be empty or start with a "/": "{pointer}"')
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _is_index(token: str) -> bool:
    return token.isascii() and token.isdigit() and (token == "0" or token[0] != "0")


def _index(token: str, size: int, *, append: bool) -> int:
    if append and token == "-":
        return size
    if not _is_index(token):
        raise errors.PatchError(f"value was not a proper array index: '{token}'")
    index = int(token)
    if index > size or (index == size and not append):
        raise errors.PatchError(f"Unable to access invalid index: {index}")
    return index


def _parent(doc: Any, path: str, op: str, what: str = "path") -> tuple[Any, str]:
    """The container holding the last token of ``path``, and that token."""
    tokens = parse_pointer(path)
    node = doc
    for token in tokens[:-1]:
        if type(node) is dict:
            node = node.get(token)
        elif type(node) is list and _is_index(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            node = None
    if type(node) is not dict and type(node) is not list:
        raise errors.PatchError(f'{op} operation does not apply: doc is missing {what}: "{path}"')
    return node, tokens[-1]


def _get(doc: Any, path: str, op: str, what: str = "path") -> Any:
    if path == "":
        return doc
    container, token = _parent(doc, path, op, what)
    if type(container) is dict:
        if token not in container:
            raise errors.PatchError(f'{op} operation does not apply: doc is missing {what}: "{path}"')
        return container[token]
    return container[_index(token, len(container), append=False)]


def _add(doc: Any, path: str, value: Any, op: str) -> Any:
    if path == "":
        return value
    container, token = _parent(doc, path, op)
    if type(container) is dict:
        container[token] = value
    else:
        container.insert(_index(token, len(container), append=True), value)
    return doc


def _remove(doc: Any, path: str, op: str) -> Any:
    if path == "":
        raise errors.PatchError(f"{op} operation does not apply: cannot remove the whole document")
    container, token = _parent(doc, path, op)
    if type(container) is dict:
        if token not in container:
            raise errors.PatchError(
                f"error in {op} for path: '{path}': unable to remove nonexistent key: {token}"
            )
        return container.pop(token)
    return container.pop(_index(token, len(container), append=False))


def _operand(operation: Mapping[str, Any], field: str, kind: str) -> Any:
    if field not in operation:
        raise errors.PatchError(f"{kind} operation, missing {field} field")
    value = operation[field]
    if field != "value" and type(value) is not str:
        raise errors.PatchError(f"{kind} operation failed to decode {field}")
    return value


def json_patch(target: Any, operations: list[Mapping[str, Any]]) -> Any:
    """Apply an RFC 6902 patch (a list of operations) and return the new document."""
    if type(operations) is not list:
        raise errors.PatchError("a JSON patch must be a list of operations")
    doc = deep_copy(target)
    for operation in operations:
        if type(operation) is not dict:
            raise errors.PatchError(f"a JSON patch operation must be an object, got: {operation!r}")
        kind = operation.get("op")
        path = _operand(operation, "path", str(kind))
        if kind == "add":
            doc = _add(doc, path, deep_copy(_operand(operation, "value", kind)), kind)
        elif kind == "remove":
            _remove(doc, path, kind)
        elif kind == "replace":
            value = deep_copy(_operand(operation, "value", kind))
            if path == "":
                doc = value
                continue
            container, token = _parent(doc, path, kind)
            if type(container) is dict:
                if token not in container:
                    raise errors.PatchError(f"replace operation does not apply: doc is missing key: {path}")
                container[token] = value
            else:
                container[_index(token, len(container), append=False)] = value
        elif kind in ("move", "copy"):
            source = _operand(operation, "from", kind)
            if kind == "move" and path.startswith(source + "/"):
                raise errors.PatchError(f"move operation cannot move {source} into its own child {path}")
            value = _get(doc, source, kind, "from path")
            if kind == "move":
                if source == path:
                    continue
                _remove(doc, source, kind)
            doc = _add(doc, path, deep_copy(value), kind)
        elif kind == "test":
            expected = _operand(operation, "value", kind)
            try:
                actual = _get(doc, path, kind)
            except errors.PatchError:
                raise errors.PatchError(f"testing value {path} failed") from None
            if not json_equal(actual, expected):
                raise errors.PatchError(f"testing value {path} failed")
        else:
            raise errors.PatchError(f"Unexpected kind: {kind}")
    return doc
