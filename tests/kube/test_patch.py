"""RFC 7386 merge patch and RFC 6902 JSON patch.

Cases come from the RFCs' appendices. Strategic merge patch is tested in test_strategic_merge_patch.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import errors, patch

# ---------------------------------------------------------------------------------------------------------
# RFC 7386 merge patch


@pytest.mark.parametrize(
    ("target", "merge", "result"),
    [
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="A1-replace"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="A2-add"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="A3-delete"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="A4-delete-one"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="A5-list-to-scalar"),
        pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="A6-scalar-to-list"),
        pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="A7-nested"),
        pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="A8-lists-replace"),
        pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="A9-array-target"),
        pytest.param({"a": "b"}, ["c"], ["c"], id="A10-array-patch"),
        pytest.param({"a": "foo"}, None, None, id="A11-null-patch"),
        pytest.param({"a": "foo"}, "bar", "bar", id="A12-scalar-patch"),
        pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="A13-null-in-target-kept"),
        pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="A14-object-over-array"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="A15-nested-null-dropped"),
    ],
)
def test_merge_patch_rfc7386_appendix_a(target: Any, merge: Any, result: Any) -> None:
    assert patch.merge_patch(target, merge) == result


def test_merge_patch_does_not_mutate_or_share() -> None:
    target = {"spec": {"replicas": 1, "template": {"labels": {"a": "b"}}}}
    merge = {"spec": {"replicas": 3, "new": {"x": [1]}}}
    result = patch.merge_patch(target, merge)
    result["spec"]["template"]["labels"]["a"] = "changed"
    result["spec"]["new"]["x"].append(2)
    assert target == {"spec": {"replicas": 1, "template": {"labels": {"a": "b"}}}}
    assert merge == {"spec": {"replicas": 3, "new": {"x": [1]}}}


@pytest.mark.parametrize(
    ("original", "modified", "expected"),
    [
        pytest.param({"a": 1, "b": 2}, {"a": 1, "b": 3}, {"b": 3}, id="changed"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}, id="nested-removed"),
        pytest.param({"a": [1, 2]}, {"a": [1, 2, 3]}, {"a": [1, 2, 3]}, id="list-replaced"),
        pytest.param({"a": 1}, {"a": 1}, {}, id="unchanged"),
        pytest.param({"a": 1}, {"a": True}, {"a": True}, id="one-is-not-true"),
    ],
)
def test_create_merge_patch(original: Any, modified: Any, expected: Any) -> None:
    assert patch.create_merge_patch(original, modified) == expected


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_with_nulls = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=15,
)
# Merge patch cannot set a member to null, so the modified document holds no null object member.
json_without_null_members = st.recursive(
    scalars.filter(lambda v: v is not None),
    lambda c: st.lists(c | st.none(), max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=15,
)


@given(
    st.dictionaries(st.text(max_size=3), json_with_nulls, max_size=4),
    st.dictionaries(st.text(max_size=3), json_without_null_members, max_size=4),
)
def test_create_merge_patch_inverts_merge_patch(original: dict[str, Any], modified: dict[str, Any]) -> None:
    assert patch.merge_patch(original, patch.create_merge_patch(original, modified)) == modified


# ---------------------------------------------------------------------------------------------------------
# RFC 6902 JSON patch


@pytest.mark.parametrize(
    ("target", "operations", "result"),
    [
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
            id="A1-add-member",
        ),
        pytest.param(
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
            id="A2-add-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "remove", "path": "/baz"}],
            {"foo": "bar"},
            id="A3-remove-member",
        ),
        pytest.param(
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
            id="A4-remove-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
            id="A5-replace",
        ),
        pytest.param(
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
            id="A6-move-value",
        ),
        pytest.param(
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
            id="A7-move-element",
        ),
        pytest.param(
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
            id="A8-test-success",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
            id="A10-add-nested",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
            id="A11-ignore-unknown-members",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": 10}],
            {"/": 9, "~1": 10},
            id="A14-escape-order",
        ),
        pytest.param(
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
            id="A16-append-array",
        ),
        pytest.param(
            {"a": {"b/c": 1}},
            [{"op": "copy", "from": "/a/b~1c", "path": "/d"}],
            {"a": {"b/c": 1}, "d": 1},
            id="copy-escaped",
        ),
        pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1], id="replace-root"),
        pytest.param({"a": None}, [{"op": "test", "path": "/a", "value": None}], {"a": None}, id="test-null"),
        pytest.param({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}, id="move-to-itself"),
        pytest.param(
            {"metadata": {"labels": {"app": "web"}}},
            [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}],
            {"metadata": {"labels": {"app": "web", "app.kubernetes.io/name": "web"}}},
            id="label-with-slash",
        ),
    ],
)
def test_json_patch_rfc6902_appendix_a(target: Any, operations: list[dict[str, Any]], result: Any) -> None:
    assert patch.json_patch(target, operations) == result


@pytest.mark.parametrize(
    ("target", "operations", "message"),
    [
        pytest.param(
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "testing value /baz failed",
            id="A9-test-fails",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz/bat", "value": "qux"}],
            'add operation does not apply: doc is missing path: "/baz/bat"',
            id="A12-missing-parent",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": "10"}],
            "testing value /~01 failed",
            id="A15-string-is-not-number",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "remove", "path": "/spec/foo"}],
            "unable to remove nonexistent key: foo",
            id="remove-missing",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "replace", "path": "/spec/replicas", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/replicas",
            id="replace-missing",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/5", "value": 1}],
            "Unable to access invalid index: 5",
            id="index-out-of-range",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/01", "value": 1}],
            "value was not a proper array index: '01'",
            id="leading-zero",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "remove", "path": "/a/-"}],
            "value was not a proper array index: '-'",
            id="dash-on-remove",
        ),
        pytest.param(
            {"a": 1},
            [{"op": "copy", "from": "/b", "path": "/c"}],
            'copy operation does not apply: doc is missing from path: "/b"',
            id="copy-missing-from",
        ),
        pytest.param(
            {"a": {"b": 1}},
            [{"op": "move", "from": "/a", "path": "/a/b/c"}],
            "cannot move /a into its own child",
            id="move-into-child",
        ),
        pytest.param(
            {"a": 1}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate", id="unknown-op"
        ),
        pytest.param(
            {"a": 1}, [{"op": "add", "path": "/b"}], "add operation, missing value field", id="missing-value"
        ),
        pytest.param({"a": 1}, [{"op": "remove"}], "remove operation, missing path field", id="missing-path"),
        pytest.param(
            {"a": 1},
            [{"op": "add", "path": "a", "value": 1}],
            'JSON pointer must be empty or start with a "/"',
            id="relative-pointer",
        ),
        pytest.param(
            {"a": 1},
            [{"op": "add", "path": "/a/b", "value": 1}],
            'doc is missing path: "/a/b"',
            id="scalar-parent",
        ),
        pytest.param({"a": 1}, {"op": "add"}, "a JSON patch must be a list of operations", id="not-a-list"),
    ],
)
def test_json_patch_errors_read_like_upstream(target: Any, operations: Any, message: str) -> None:
    with pytest.raises(errors.PatchError, match=re.escape(message)):
        patch.json_patch(target, operations)


def test_json_patch_is_all_or_nothing_and_pure() -> None:
    target = {"spec": {"replicas": 1}, "items": [{"a": 1}]}
    value = {"x": [1]}
    result = patch.json_patch(target, [{"op": "add", "path": "/items/-", "value": value}])
    result["items"][1]["x"].append(2)
    assert value == {"x": [1]}
    with pytest.raises(errors.PatchError):
        patch.json_patch(
            target, [{"op": "remove", "path": "/spec/replicas"}, {"op": "test", "path": "/x", "value": 1}]
        )
    assert target == {"spec": {"replicas": 1}, "items": [{"a": 1}]}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        pytest.param("", [], id="root"),
        pytest.param("/", [""], id="empty-key"),
        pytest.param("/a~1b/m~0n/~01", ["a/b", "m~n", "~1"], id="escapes"),
    ],
)
def test_parse_pointer(pointer: str, tokens: list[str]) -> None:
    assert patch.parse_pointer(pointer) == tokens
