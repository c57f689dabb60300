"""The wire format between hosts: msgpack, with frozen dataclasses, enums, tuples and errors intact.

Only plain data crosses a host boundary. msgpack carries dicts, lists, strings, bytes, numbers, booleans and
None natively; these extension types carry the rest so a message reads the same on both sides:

- tuples (ext 1), so ``args`` stay tuples;
- dataclass instances (ext 2): the class as ``module:qualname`` and the field values in declaration order
  (both sides run the same code, so the order is the same);
- enum members (ext 3): the class and the value;
- exceptions (ext 4): rebuilt as the same type with the same ``args`` and plain attributes (scalars, and
  lists and dicts of them: a store's ``Compacted`` keeps its ``compact_revision``, an apiserver's
  ``ApiError`` its ``status`` body), without calling the constructor; a type this side cannot import becomes
  ``RemoteError`` with the original type name and message.

Classes are resolved by import, so both sides must run the same code; a host trusts its peers.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
from typing import Any

import msgpack

from actors.runtime import errors

_TUPLE, _DATACLASS, _ENUM, _EXCEPTION = 1, 2, 3, 4


def pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, default=_default, strict_types=True, use_bin_type=True)
    return data


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False, use_list=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return msgpack.ExtType(_TUPLE, pack(list(obj)))
    if isinstance(obj, enum.Enum):
        return msgpack.ExtType(_ENUM, pack([_path(type(obj)), obj.value]))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        return msgpack.ExtType(_DATACLASS, pack([_path(cls), [getattr(obj, name) for name in _fields(cls)]]))
    if isinstance(obj, BaseException):
        return msgpack.ExtType(_EXCEPTION, pack(_exception_fields(obj)))
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, list | set | frozenset):
        return list(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    raise TypeError(f"cannot send {type(obj).__name__} between hosts: only plain data and dataclasses travel")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _TUPLE:
        return tuple(unpack(data))
    if code == _ENUM:
        path, value = unpack(data)
        return _resolve(path)(value)
    if code == _DATACLASS:
        path, values = unpack(data)
        cls = _resolve(path)
        return cls(**dict(zip(_fields(cls), values, strict=True)))
    if code == _EXCEPTION:
        return _rebuild_exception(unpack(data))
    return msgpack.ExtType(code, data)


def _exception_fields(error: BaseException) -> list[Any]:
    args = list(error.args) if all(_plain(a) for a in error.args) else [str(error)]
    attrs = {k: v for k, v in getattr(error, "__dict__", {}).items() if _plain(v)}
    return [_path(type(error)), args, attrs]


def _rebuild_exception(fields: list[Any]) -> BaseException:
    """Rebuild without calling the constructor (whose signature may differ from ``args``)."""
    path, args, attrs = fields
    try:
        cls = _resolve(path)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            error: BaseException = cls.__new__(cls)
            error.args = tuple(args)
            error.__dict__.update(attrs)
            return error
    except Exception:  # the type is unknown here
        pass
    return errors.RemoteError(path.rpartition(":")[2], " ".join(str(a) for a in args))


def _plain(value: Any) -> bool:
    """Data that crosses as it is: scalars, and lists and string-keyed dicts of them (a Status body)."""
    if isinstance(value, str | int | float | bool | bytes | None):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _path(cls: type) -> str:
    path = _PATHS.get(cls)
    if path is None:
        path = _PATHS[cls] = f"{cls.__module__}:{cls.__qualname__}"
    return path


_PATHS: dict[type, str] = {}


@functools.lru_cache(maxsize=4096)
def _fields(cls: type) -> tuple[str, ...]:
    """A dataclass's field names in declaration order: its fields travel as a list in this order."""
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.lru_cache(maxsize=4096)
def _resolve(path: str) -> Any:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target
