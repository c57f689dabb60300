"""``ObjectStore``'s kept writes: the watch cache takes what this apiserver wrote instead of decoding it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from actors.apiserver import status, storage
from consensus.client import StoreClient
from consensus.mvcc import types
from kube import kinds

_FOUND = kinds.DEFAULT.by_resource("", "v1", "pods")
assert _FOUND is not None
_PODS: kinds.Kind = _FOUND


class _Client:
    """The store as a guarded write sees it: every txn succeeds (or fails) at revision 7."""

    def __init__(self, *, succeeded: bool = True) -> None:
        self.succeeded = succeeded
        self.values: list[bytes] = []

    async def txn(self, request: types.TxnRequest) -> types.TxnResponse:
        put = request.success[0]
        assert isinstance(put, types.PutRequest)
        self.values.append(put.value)
        responses = () if self.succeeded else (types.RangeResponse(revision=7, kvs=(), count=0),)
        return types.TxnResponse(revision=7, succeeded=self.succeeded, responses=responses)


def _store(client: _Client) -> storage.ObjectStore:
    return storage.ObjectStore(cast(StoreClient, client))


def _pod(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "resourceVersion": "5", "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **extra},
    }


def _kv(value: bytes) -> types.KeyValue:
    return types.KeyValue(
        key=b"/registry/pods/default/p", create_revision=2, mod_revision=7, version=3, value=value
    )


def _shape(value: Any) -> Any:
    """The value with every type and key order spelled out, to compare two values exactly."""
    if isinstance(value, dict):
        return ("dict", [(k, _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    return (type(value).__name__, value)


async def test_a_kept_write_reaches_the_cache_as_a_decode_would_once() -> None:
    client = _Client()
    objects = _store(client)
    answer = await objects.update(_PODS, _pod(), 5, keep=True)
    assert answer["metadata"]["resourceVersion"] == "7"
    kv = _kv(client.values[0])
    taken = objects.decode(kv)
    assert _shape(taken) == _shape(storage.decode(kv))
    assert taken["spec"] is answer["spec"]  # shared with the answer, which the caller only reads
    again = objects.decode(kv)  # served once: a repeat is decoded
    assert _shape(again) == _shape(taken) and again["spec"] is not taken["spec"]


async def test_a_write_that_failed_is_forgotten() -> None:
    client = _Client(succeeded=False)
    objects = _store(client)
    with pytest.raises(status.ApiError):
        await objects.update(_PODS, _pod(), 5, keep=True)
    assert objects.decode(_kv(client.values[0]))["spec"] == _pod()["spec"]
    assert not objects._kept


@pytest.mark.parametrize("keep", [False, True])
async def test_only_exact_data_written_with_keep_is_kept(keep: bool) -> None:
    client = _Client()
    objects = _store(client)
    await objects.update(_PODS, _pod(tolerations=() if keep else []), 5, keep=keep)
    taken = objects.decode(_kv(client.values[0]))
    assert not objects._kept  # a tuple would come back a list: decoded, as without keep
    assert taken["spec"]["tolerations"] == []


async def test_kept_objects_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "KEPT", 2)
    objects = _store(_Client())
    for i in range(3):
        await objects.update(_PODS, _pod(n=i), 5, keep=True)
    assert [o["spec"]["n"] for o in objects._kept.values()] == [1, 2]
