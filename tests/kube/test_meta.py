"""Metadata helpers: keys, owner references, generated names, timestamps, UIDs and deep copies."""

from __future__ import annotations

import copy
import random
import re
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import errors, meta

RS_REF = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web-7d4b9c",
    "uid": "uid-rs",
    "controller": True,
    "blockOwnerDeletion": True,
}
NODE_REF = {"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": "uid-node"}


def pod(**metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        pytest.param(pod(name="web-0", namespace="default"), "default/web-0", id="namespaced"),
        pytest.param({"kind": "Node", "metadata": {"name": "node-1"}}, "node-1", id="cluster-scoped"),
        pytest.param({"kind": "Node"}, "", id="no-metadata"),
    ],
)
def test_key_of_prints_as_client_go_keys(obj: dict[str, Any], key: str) -> None:
    assert str(meta.key_of(obj)) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("default/web-0", meta.ObjectKey(namespace="default", name="web-0"), id="namespaced"),
        pytest.param("node-1", meta.ObjectKey(namespace="", name="node-1"), id="cluster-scoped"),
    ],
)
def test_parse_key_inverts_str(text: str, key: meta.ObjectKey) -> None:
    assert meta.parse_key(text) == key
    assert str(key) == text


def test_parse_key_rejects_two_slashes() -> None:
    with pytest.raises(errors.KubeError, match="unexpected key format"):
        meta.parse_key("a/b/c")


def test_object_key_is_hashable_and_frozen() -> None:
    key = meta.ObjectKey(namespace="ns", name="a")
    assert {key: 1}[meta.ObjectKey(namespace="ns", name="a")] == 1
    with pytest.raises(AttributeError):
        key.name = "b"  # type: ignore[misc]


@pytest.mark.parametrize("ref", [pytest.param(RS_REF, id="controller"), pytest.param(NODE_REF, id="plain")])
def test_owner_reference_round_trips_its_dict(ref: dict[str, Any]) -> None:
    assert meta.OwnerReference.from_dict(ref).to_dict() == ref


@pytest.mark.parametrize(
    ("refs", "controller"),
    [
        pytest.param([NODE_REF, RS_REF], "web-7d4b9c", id="second-is-controller"),
        pytest.param([NODE_REF], None, id="no-controller"),
        pytest.param([{**RS_REF, "controller": False}], None, id="controller-false"),
        pytest.param([], None, id="no-refs"),
    ],
)
def test_controller_of_finds_the_managing_owner(refs: list[dict[str, Any]], controller: str | None) -> None:
    found = meta.controller_of(pod(name="p", ownerReferences=refs))
    assert (found.name if found else None) == controller


def test_owned_by_and_owner_references() -> None:
    obj = pod(name="p", ownerReferences=[NODE_REF, RS_REF])
    assert meta.owned_by(obj, "uid-rs")
    assert not meta.owned_by(obj, "uid-other")
    assert not meta.owned_by(pod(name="p"), "uid-rs")
    assert [ref.kind for ref in meta.owner_references(obj)] == ["Node", "ReplicaSet"]


@pytest.mark.parametrize(
    ("obj", "labels"),
    [
        pytest.param(pod(labels={"app": "web"}), {"app": "web"}, id="present"),
        pytest.param(pod(labels=None), {}, id="null"),
        pytest.param(pod(), {}, id="absent"),
        pytest.param({}, {}, id="no-metadata"),
    ],
)
def test_labels_of(obj: dict[str, Any], labels: dict[str, str]) -> None:
    assert dict(meta.labels_of(obj)) == labels


def test_annotations_of_empty_is_read_only() -> None:
    empty = meta.annotations_of(pod())
    assert dict(empty) == {}
    with pytest.raises(TypeError):
        empty["a"] = "b"  # type: ignore[index]
    assert meta.annotations_of(pod(annotations={"a": "b"})) == {"a": "b"}


def test_generate_name_suffix_uses_upstream_alphabet_and_is_seeded() -> None:
    suffix = meta.generate_name_suffix(random.Random(7))
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{5}", suffix)
    assert suffix == meta.generate_name_suffix(random.Random(7))


@pytest.mark.parametrize(
    ("prefix", "kept"),
    [
        pytest.param("web-7d4b9c-", "web-7d4b9c-", id="short"),
        pytest.param("a" * 58, "a" * 58, id="exactly-58"),
        pytest.param("b" * 70, "b" * 58, id="truncated-to-58"),
    ],
)
def test_generate_name_truncates_prefix_like_upstream(prefix: str, kept: str) -> None:
    name = meta.generate_name(prefix, random.Random(1))
    assert name.startswith(kept)
    assert len(name) == len(kept) + 5
    assert len(name) <= meta.MAX_NAME_LENGTH


def test_new_uid_is_version_4_and_deterministic() -> None:
    first = meta.new_uid(random.Random(42))
    parsed = uuid.UUID(first)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert meta.new_uid(random.Random(42)) == first
    rng = random.Random(42)
    assert meta.new_uid(rng) != meta.new_uid(rng)


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        pytest.param(0.0, "1970-01-01T00:00:00Z", id="epoch"),
        pytest.param(1795639654.9, "2026-11-25T20:47:34Z", id="fraction-dropped"),
        pytest.param(-0.5, "1969-12-31T23:59:59Z", id="before-epoch-floors"),
    ],
)
def test_now_rfc3339(epoch: float, text: str) -> None:
    assert meta.now_rfc3339(epoch) == text


def test_now_rfc3339_micro() -> None:
    assert meta.now_rfc3339_micro(1795639654.000123) == "2026-11-25T20:47:34.000123Z"


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        pytest.param("2026-11-25T20:47:34Z", 1795639654.0, id="utc"),
        pytest.param("2026-11-25T21:47:34+01:00", 1795639654.0, id="offset"),
        pytest.param("2026-11-25T20:47:34.250000Z", 1795639654.25, id="micro"),
        pytest.param("2026-11-25T20:47:34.123456789Z", 1795639654.123456, id="nano-truncated"),
        pytest.param("2026-11-25t20:47:34z", 1795639654.0, id="lower-case"),
    ],
)
def test_parse_rfc3339(text: str, epoch: float) -> None:
    assert meta.parse_rfc3339(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-11-25T20:47:34", id="no-zone"),
        pytest.param("2026-11-25 20:47:34Z", id="space"),
        pytest.param("2026-13-25T20:47:34Z", id="month-13"),
        pytest.param("yesterday", id="words"),
    ],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(errors.ValidationError, match="RFC 3339"):
        meta.parse_rfc3339(text)


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_rfc3339_round_trip(epoch: int) -> None:
    assert meta.parse_rfc3339(meta.now_rfc3339(epoch)) == epoch


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_deep_copy_equals_and_shares_no_container(value: Any) -> None:
    copied = meta.deep_copy(value)
    assert copied == value

    def containers(v: Any) -> list[int]:
        if isinstance(v, dict):
            return [id(v), *(i for x in v.values() for i in containers(x))]
        if isinstance(v, list):
            return [id(v), *(i for x in v for i in containers(x))]
        return []

    assert not set(containers(copied)) & set(containers(value))


def test_deep_copy_is_independent_of_the_original() -> None:
    original = pod(name="p", labels={"app": "web"}, ownerReferences=[dict(RS_REF)])
    copied = meta.deep_copy(original)
    copied["metadata"]["labels"]["app"] = "db"
    copied["metadata"]["ownerReferences"][0]["name"] = "other"
    assert original == copy.deepcopy(pod(name="p", labels={"app": "web"}, ownerReferences=[RS_REF]))
