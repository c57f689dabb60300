"""Field selectors: upstream's parse and escape tables, per-kind field labels and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import fields, kinds
from kube.errors import SelectorError

POD = kinds.DEFAULT.lookup("pods")
NODE = kinds.DEFAULT.lookup("nodes")
JOB = kinds.DEFAULT.lookup("jobs")
EVENT = kinds.DEFAULT.lookup("events")
DEPLOY = kinds.DEFAULT.lookup("deployments")
assert POD and NODE and JOB and EVENT and DEPLOY

POD_OBJ: dict[str, Any] = {
    "metadata": {"name": "web-0", "namespace": "default"},
    "spec": {"nodeName": "node-1", "restartPolicy": "Always", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.5"},
}

# upstream selector_test.go TestSelectorParse: good strings print back unchanged (terms sorted).
GOOD = [
    ("", ""),
    ("x=a", "x=a"),
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("x!=a,y=b", "x!=a,y=b"),
    ("x=,z= ", "x=,z= "),
    ("x==a", "x=a"),
    ("z=c,x=a", "x=a,z=c"),
    ("x=a\\,b", "x=a\\,b"),
    ("x=a\\=b", "x=a\\=b"),
    ("x=a\\\\b", "x=a\\\\b"),
    ("metadata.name=web-0", "metadata.name=web-0"),
]


@pytest.mark.parametrize(("text", "canonical"), GOOD, ids=[repr(g[0]) for g in GOOD])
def test_parse_and_print(text: str, canonical: str) -> None:
    assert str(fields.parse(text)) == canonical


BAD = [
    ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
    ("x", "invalid selector: 'x'; can't understand 'x'"),
    ("x=a,y", "invalid selector: 'x=a,y'; can't understand 'y'"),
    ("x=a\\", "invalid field selector: invalid escape sequence: \\"),
    ("x=a\\b", "invalid field selector: invalid escape sequence: \\b"),
    ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
    ("x=a=b", "invalid field selector: unescaped character in value: 61"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_selectors_raise_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        fields.parse(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("", ""), ("a", "a"), ("=", "\\="), (",", "\\,"), ("\\", "\\\\"), ("\\=\\,\\", "\\\\\\=\\\\\\,\\\\")],
    ids=["empty", "plain", "equals", "comma", "backslash", "mixed"],
)
def test_escape_value_table(value: str, escaped: str) -> None:
    assert fields.escape_value(value) == escaped
    assert fields.unescape_value(escaped) == value


MATCHES = [
    ("spec.nodeName=node-1", True),
    ("spec.nodeName=node-2", False),
    ("spec.nodeName!=node-2,status.phase=Running", True),
    ("spec.nodeName==node-1", True),
    ("metadata.name=web-0,metadata.namespace=default", True),
    ("metadata.namespace!=default", False),
    ("spec.hostNetwork=true", True),
    ("status.nominatedNodeName=", True),
    ("spec.schedulerName=default-scheduler", False),
    ("status.podIP=10.0.0.5", True),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES, ids=[m[0] for m in MATCHES])
def test_pod_field_matching(text: str, expected: bool) -> None:
    selector = fields.convert(fields.parse(text), POD)
    assert selector.matches_object(POD_OBJ, POD) is expected
    assert selector.matches(fields.object_fields(POD_OBJ, POD)) is expected


UNSUPPORTED = [
    (POD, "spec.foo", "field label not supported: spec.foo"),
    (NODE, "metadata.namespace", "field label not supported: metadata.namespace"),
    (JOB, "spec.parallelism", 'field label "spec.parallelism" not supported for Job'),
    (
        DEPLOY,
        "spec.replicas",
        '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
    ),
]


@pytest.mark.parametrize(("kind", "label", "message"), UNSUPPORTED, ids=["pod", "node", "job", "default"])
def test_unsupported_field_labels_are_refused_as_upstream(kind: kinds.Kind, label: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        fields.convert(fields.parse(f"{label}=x"), kind)
    assert str(err.value) == message


def test_supported_fields_per_kind() -> None:
    assert set(fields.supported_fields(POD)) == {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }
    assert set(fields.supported_fields(NODE)) == {"metadata.name", "spec.unschedulable"}
    assert "involvedObject.uid" in fields.supported_fields(EVENT)
    assert set(fields.supported_fields(DEPLOY)) == {"metadata.name", "metadata.namespace"}


def test_legacy_spec_host_becomes_spec_node_name() -> None:
    assert str(fields.convert(fields.parse("spec.host=node-1"), POD)) == "spec.nodeName=node-1"


def test_typed_fields_render_as_upstream() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {}}
    assert fields.object_fields(node, NODE) == {"metadata.name": "n1", "spec.unschedulable": "false"}
    job = {"metadata": {"name": "j", "namespace": "d"}, "status": {"succeeded": 3}}
    assert fields.parse("status.successful=3").matches_object(job, JOB)
    event = {"metadata": {"name": "e"}, "source": {"component": "kubelet"}, "involvedObject": {"kind": "Pod"}}
    assert fields.parse("source=kubelet,involvedObject.kind=Pod").matches_object(event, EVENT)


def test_requires_exact_match_and_nothing() -> None:
    selector = fields.parse("spec.nodeName=node-1,status.phase!=Failed")
    assert selector.requires_exact_match("spec.nodeName") == "node-1"
    assert selector.requires_exact_match("status.phase") is None
    assert fields.parse("").empty and fields.EVERYTHING.matches({})
    assert not fields.NOTHING.matches({}) and not fields.NOTHING.matches_object(POD_OBJ, POD)
    assert fields.from_set({"a": "b"}).matches({"a": "b"})


_field = st.from_regex(r"[a-z]{1,6}(\.[a-zA-Z]{1,6}){0,2}", fullmatch=True)


@given(st.lists(st.tuples(_field, st.sampled_from(["=", "==", "!="]), st.text(max_size=8)), max_size=4))
def test_string_form_round_trips_with_any_value(terms: list[tuple[str, str, str]]) -> None:
    text = ",".join(f"{f}{op}{fields.escape_value(v)}" for f, op, v in terms)
    selector = fields.parse(text)
    again = fields.parse(str(selector))
    assert again == selector
    assert str(again) == str(selector)
    assert {(r.field, r.value) for r in again.requirements} == {(f, v) for f, _, v in terms}


@given(_field, st.sampled_from(["=", ",", "==", ",,", "=,"]))
def test_unescaped_specials_in_values_are_errors(field: str, junk: str) -> None:
    with pytest.raises(SelectorError, match="invalid"):
        fields.parse(f"{field}=a{junk}b")
