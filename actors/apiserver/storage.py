"""Kubernetes objects in the store: keys, encoding, and the compare-and-swap writes the REST verbs need.

Keys are ``/registry/<resource>/<namespace>/<name>`` for namespaced kinds and ``/registry/<resource>/<name>``
for cluster-scoped ones (upstream's layout; a group is not part of the key, as upstream's built-in resources
have none). Values are the object as msgpack without ``metadata.resourceVersion``: the resource version *is*
the key's ``mod_revision``, set on every read, so an object's version can never disagree with the store's.

Writes are single store transactions, as upstream's etcd3 storage does them:

- create: ``if create_revision(key) == 0 then put else get``, so two creates race to one winner;
- update and delete: ``if mod_revision(key) == resourceVersion then put/delete else get``; a loser learns
  whether the object changed (``Conflict``) or vanished (``NotFound``) from the same transaction.

``ObjectStore`` returns plain dicts that callers own (but for a write with ``keep``: see ``create``). It
raises ``status.ApiError``; store outages surface as ``consensus.client.StoreUnavailable`` and are turned
into 503/504 by the HTTP layer.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from actors.apiserver import status
from consensus.client import StoreClient
from consensus.mvcc import types
from kube import codec, kinds

REGISTRY = b"/registry/"


def prefix(kind: kinds.Kind, namespace: str | None = None) -> bytes:
    """The key prefix of every object of ``kind`` (in ``namespace`` when given and the kind is namespaced)."""
    base = REGISTRY + kind.resource.encode() + b"/"
    if kind.namespaced and namespace:
        return base + namespace.encode() + b"/"
    return base


def key(kind: kinds.Kind, namespace: str | None, name: str) -> bytes:
    return prefix(kind, namespace if kind.namespaced else None) + name.encode()


def decode(kv: types.KeyValue) -> dict[str, Any]:
    """The object a stored version holds, with its resourceVersion."""
    obj: dict[str, Any] = codec.from_msgpack(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What is stored of ``obj``: itself without ``metadata.resourceVersion``."""
    meta = obj.get("metadata") or {}
    if "resourceVersion" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}


KEPT = 4096
"""Written objects kept for the watch cache at most (see ``ObjectStore.decode``); the oldest go first."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One page of a list: the objects, the revision they were read at, and how to go on."""

    items: list[dict[str, Any]]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


def encode_continue(revision: int, start: str) -> str:
    """Upstream's continue token: base64 of ``{"v":"meta.k8s.io/v1","rv":<rev>,"start":"<key>\\u0000"}``."""
    payload = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, start key after the prefix) of a continue token; ``bad_request`` when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("start"), str):
            raise ValueError("unknown version")
        revision = int(data["rv"])
    except (ValueError, TypeError, KeyError, json.JSONDecodeError):
        raise status.bad_request("continue key is not valid: invalid continue token") from None
    if revision <= 0:
        raise status.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )
    return revision, data["start"]


class ObjectStore:
    """The store as the REST verbs use it (see the module docstring)."""

    def __init__(self, client: StoreClient) -> None:
        self.client = client
        self._kept: dict[bytes, dict[str, Any]] = {}  # stored bytes -> the object written as them

    def decode(self, kv: types.KeyValue) -> dict[str, Any]:
        """``decode(kv)``, without decoding when ``kv`` holds an object this store wrote with ``keep``: that
        object at ``kv``'s version, equal to a decode type for type and in key order (its bytes are
        ``codec.to_msgpack_exact``'s). Each kept object serves once (the watch cache takes it)."""
        kept = self._kept.pop(kv.value, None)
        return decode(kv) if kept is None else _with_version(kept, kv.mod_revision)

    def _encode(self, obj: dict[str, Any], keep: bool) -> bytes:
        stored = _stored(obj)
        if keep:
            value = codec.to_msgpack_exact(stored)
            if value is not None:
                kept = self._kept
                kept[value] = stored
                if len(kept) > KEPT:
                    del kept[next(iter(kept))]
                return value
        return codec.to_msgpack(stored)

    def _forget(self, value: bytes) -> None:
        """A write that did not happen: its object, if kept, never reaches the watch cache."""
        self._kept.pop(value, None)

    async def revision(self) -> int:
        """The store's current revision, read through the log (a linearizable read)."""
        response = await self.client.range(
            types.RangeRequest(key=REGISTRY, range_end=types.prefix_range_end(REGISTRY), count_only=True)
        )
        return response.revision

    async def get(self, kind: kinds.Kind, namespace: str | None, name: str) -> dict[str, Any]:
        response = await self.client.range(types.RangeRequest(key=key(kind, namespace, name)))
        if not response.kvs:
            raise status.not_found(kind, name)
        return decode(response.kvs[0])

    async def list(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        *,
        limit: int = 0,
        continue_token: str = "",
        revision: int = 0,
    ) -> Page:
        """Objects in key order; ``limit`` > 0 pages (a continue token resumes at the same revision)."""
        start = prefix(kind, namespace)
        end = types.prefix_range_end(start)
        first = start
        if continue_token:
            revision, after = decode_continue(continue_token)
            first = start + after.encode()
        request = types.RangeRequest(
            key=first, range_end=end, limit=limit + 1 if limit else 0, revision=revision
        )
        try:
            response = await self.client.range(request)
        except Exception as error:
            from consensus.mvcc import errors

            if isinstance(error, errors.Compacted):
                raise status.resource_expired(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter, or use the continue token "
                    "in this response to retrieve the remainder of the results. Continuing with the "
                    "provided token results in an inconsistent list - objects that were created, modified, "
                    "or deleted between the time the first chunk was returned and now may show up in the "
                    "list."
                    if continue_token
                    else f"too old resource version: {revision} ({error.compact_revision})"
                ) from None
            raise
        kvs = list(response.kvs)
        at = revision or response.revision
        token = ""
        remaining = None
        if limit and len(kvs) > limit:
            kvs = kvs[:limit]
            last = kvs[-1].key[len(start) :].decode() + "\0"
            token = encode_continue(at, last)
            remaining = max(0, response.count - limit)
        return Page(items=[decode(kv) for kv in kvs], revision=at, continue_token=token, remaining=remaining)

    async def create(self, kind: kinds.Kind, obj: dict[str, Any], *, keep: bool = False) -> dict[str, Any]:
        """Write ``obj`` if no object has its name.

        ``keep``: nobody changes ``obj`` from here on, nor the answer, which shares its parts (the caller
        only reads it); this apiserver's watch cache then takes ``obj`` as written (``decode``). A write
        whose outcome is unknown keeps it too: if it committed, its event comes.
        """
        meta = obj["metadata"]
        k = key(kind, meta.get("namespace"), meta["name"])
        value = self._encode(obj, keep)
        response = await self.client.txn(
            types.TxnRequest(
                compare=(
                    types.Compare(
                        key=k,
                        target=types.CompareTarget.CREATE,
                        result=types.CompareResult.EQUAL,
                        target_value=0,
                    ),
                ),
                success=(types.PutRequest(key=k, value=value),),
            )
        )
        if not response.succeeded:
            self._forget(value)
            raise status.already_exists(kind, meta["name"])
        return _with_version(obj, response.revision)

    async def update(
        self, kind: kinds.Kind, obj: dict[str, Any], expected: int, *, keep: bool = False
    ) -> dict[str, Any]:
        """Write ``obj`` if the stored object is still at resource version ``expected``; ``keep`` as for
        ``create``."""
        meta = obj["metadata"]
        k = key(kind, meta.get("namespace"), meta["name"])
        value = self._encode(obj, keep)
        response = await self.client.txn(_guarded(k, expected, types.PutRequest(key=k, value=value)))
        if not response.succeeded:
            self._forget(value)
            _lost(kind, meta["name"], response)
        return _with_version(obj, response.revision)

    async def delete(self, kind: kinds.Kind, obj: dict[str, Any], expected: int) -> int:
        """Delete the object if it is still at ``expected``; the revision of the deletion."""
        meta = obj["metadata"]
        k = key(kind, meta.get("namespace"), meta["name"])
        response = await self.client.txn(_guarded(k, expected, types.DeleteRangeRequest(key=k)))
        if not response.succeeded:
            _lost(kind, meta["name"], response)
        return response.revision


def _guarded(k: bytes, expected: int, op: types.PutRequest | types.DeleteRangeRequest) -> types.TxnRequest:
    return types.TxnRequest(
        compare=(
            types.Compare(
                key=k, target=types.CompareTarget.MOD, result=types.CompareResult.EQUAL, target_value=expected
            ),
        ),
        success=(op,),
        failure=(types.RangeRequest(key=k),),
    )


def _lost(kind: kinds.Kind, name: str, response: types.TxnResponse) -> None:
    """A guarded write that lost: the object changed (Conflict) or is gone (NotFound)."""
    current = response.responses[0] if response.responses else None
    if isinstance(current, types.RangeResponse) and current.kvs:
        raise status.conflict(kind, name)
    raise status.not_found(kind, name)


def _with_version(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    meta = obj["metadata"]
    return {**obj, "metadata": {**meta, "resourceVersion": str(revision)}}
