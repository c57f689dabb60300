"""Validation: upstream's good/bad tables for names and labels, its exact messages, object metadata."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import validation
from kube.errors import FieldErrorType

# upstream validation_test.go, TestIsDNS1123Label / TestIsDNS1123Subdomain / TestIsDNS1035Label.
LABEL_GOOD = [
    "a",
    "ab",
    "abc",
    "a1",
    "a-1",
    "a--1--2--b",
    "0",
    "01",
    "012",
    "1a",
    "1-a",
    "1--a--b--2",
    "a" * 63,
]
LABEL_BAD = [
    *("", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1"),
    *("_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2"),
    *(" ", "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64, "a\n"),
]
SUBDOMAIN_GOOD = [
    *LABEL_GOOD,
    *("a.a", "ab.a", "a--1--2--b.a", "a.1", "0.a", "1--a--b--2.1", "a.b.c.d.e", "1.2.3.4.5", "a" * 253),
]
SUBDOMAIN_BAD = [
    *("", "A", "aBc", "-", "a-", "-a", "_", "a_b", ".", "a.", ".a", "a..b", "1..2", " ", "a b"),
    *("A.a", "ab.A", "a.B.c.d.e", "a@b", "a,b", "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254),
]
DNS1035_GOOD = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63]
DNS1035_BAD = ["0", "01", "1a", "1-a", "", "A", "aBc", "-", "a-", "-a", "a_b", "a.b", "a b", "a" * 64]


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (validation.is_dns1123_label, LABEL_GOOD, LABEL_BAD),
        (validation.is_dns1123_subdomain, SUBDOMAIN_GOOD, SUBDOMAIN_BAD),
        (validation.is_dns1035_label, DNS1035_GOOD, DNS1035_BAD),
    ],
    ids=["dns1123-label", "dns1123-subdomain", "dns1035-label"],
)
def test_upstream_good_and_bad_tables(
    check: validation.NameValidator, good: list[str], bad: list[str]
) -> None:
    assert {v: check(v) for v in good} == {v: [] for v in good}  # type: ignore[call-arg]
    assert [v for v in bad if not check(v)] == []  # type: ignore[call-arg]


def test_dns1123_label_messages_are_upstream_text() -> None:
    assert validation.is_dns1123_label("My_Name") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert validation.is_dns1123_label("a.b") == ["must not contain dots"]
    assert validation.is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_subdomain_and_dns1035_messages_are_upstream_text() -> None:
    assert validation.is_dns1123_subdomain("A") == [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]
    assert validation.is_dns1035_label("1a") == [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
        "start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


QUALIFIED_GOOD = [
    "simple",
    "now-with-dashes",
    "1-starts-with-num",
    "1234",
    "simple/simple",
    "now-with-dashes/simple",
    "now-with-dashes/now-with-dashes",
    "now.with.dots/simple",
    "now-with.dashes-and.dots/simple",
    "1-num.2-num/3-num",
    "1234/5678",
    "1.2.3.4/5678",
    "Uppercase_Is_OK_123",
    "example.com/Uppercase_Is_OK_123",
    "requests.storage-foo",
    "a" * 63,
    "a" * 253 + "/" + "b" * 63,
]
QUALIFIED_BAD = [
    "nospecialchars%^=@",
    "cantendwithadash-",
    "-cantstartwithadash-",
    "only/one/slash",
    "Example.com/abc",
    "example_com/abc",
    "example.com/",
    "/simple",
    "a" * 64,
    "a" * 254 + "/abc",
]


@pytest.mark.parametrize("value", QUALIFIED_GOOD, ids=[v[:30] for v in QUALIFIED_GOOD])
def test_qualified_names_upstream_good(value: str) -> None:
    assert validation.is_qualified_name(value) == []


@pytest.mark.parametrize("value", QUALIFIED_BAD, ids=[v[:30] for v in QUALIFIED_BAD])
def test_qualified_names_upstream_bad(value: str) -> None:
    assert validation.is_qualified_name(value) != []


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("/simple", ["prefix part must be non-empty"]),
        ("example.com/", ["name part must be non-empty", "name part must consist of"]),
        ("a/b/c", ["a valid label key must consist of"]),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("Example.com/abc", ["prefix part a lowercase RFC 1123 subdomain"]),
    ],
    ids=["empty-prefix", "empty-name", "two-slashes", "long-name", "bad-prefix"],
)
def test_qualified_name_messages_name_the_part(value: str, messages: list[str]) -> None:
    got = validation.is_qualified_name(value)
    assert len(got) == len(messages)
    assert all(g.startswith(m) for g, m in zip(got, messages, strict=True))


LABEL_VALUE_GOOD = [
    "simple",
    "now-with-dashes",
    "1-starts-with-num",
    "end-with-num-1",
    "1234",
    "a" * 63,
    "",
    "Uppercase_Is_OK_123",
]
LABEL_VALUE_BAD = [
    "nospecialchars%^=@",
    "Tama-nui-te-rā.is.Māori.sun",
    "\\backslashes\\are\\bad",
    "-starts-with-dash",
    "ends-with-dash-",
    ".starts.with.dot",
    "ends.with.dot.",
    "a" * 64,
]


def test_label_values_upstream_tables() -> None:
    assert [v for v in LABEL_VALUE_GOOD if validation.is_valid_label_value(v)] == []
    assert [v for v in LABEL_VALUE_BAD if not validation.is_valid_label_value(v)] == []


@pytest.mark.parametrize(
    ("validator", "prefix", "ok"),
    [
        (validation.name_is_dns_subdomain, "web-", True),
        (validation.name_is_dns_subdomain, "-", False),
        (validation.name_is_dns_label, "ns-", True),
        (validation.name_is_dns1035_label, "svc-", True),
        (validation.name_is_dns1035_label, "1svc-", False),
    ],
    ids=["subdomain-trailing-dash", "only-dash", "label-trailing-dash", "1035-trailing-dash", "1035-digit"],
)
def test_generate_name_allows_a_trailing_dash(
    validator: validation.NameValidator, prefix: str, ok: bool
) -> None:
    assert (validator(prefix, True) == []) is ok
    assert validator(prefix, False) != []


def test_mask_trailing_dash_keeps_upstream_quirk() -> None:
    assert validation.mask_trailing_dash("abc-") == "aba"
    assert validation.mask_trailing_dash("-") == "-"


def test_name_validators_per_kind() -> None:
    assert validation.name_validator_for("", "Service") is validation.name_is_dns1035_label
    assert validation.name_validator_for("", "Namespace") is validation.name_is_dns_label
    assert validation.name_validator_for("apps", "Deployment") is validation.name_is_dns_subdomain


def _messages(meta: dict[str, object], *, namespaced: bool = True) -> list[str]:
    return [e.message() for e in validation.validate_object_meta(meta, namespaced=namespaced)]


def test_valid_metadata_has_no_errors() -> None:
    meta = {
        "name": "web-0",
        "namespace": "default",
        "labels": {"app": "web", "example.com/tier": ""},
        "annotations": {"Example.com/Note": "anything goes here"},
        "finalizers": ["kubernetes.io/pv-protection"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u1"}],
    }
    assert validation.validate_object_meta(meta, namespaced=True) == []


METADATA_ERRORS = [
    ({"namespace": "default"}, "metadata.name: Required value: name or generateName is required"),
    (
        {"name": "Web", "namespace": "default"},
        'metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain',
    ),
    ({"name": "web"}, "metadata.namespace: Required value"),
    ({"name": "web", "namespace": "a.b"}, 'metadata.namespace: Invalid value: "a.b": must not contain dots'),
    ({"name": "w", "namespace": "d", "generateName": "-"}, 'metadata.generateName: Invalid value: "-"'),
    (
        {"name": "w", "namespace": "d", "labels": {"a b": "c"}},
        'metadata.labels: Invalid value: "a b": name part',
    ),
    (
        {"name": "w", "namespace": "d", "labels": {"a": "c d"}},
        'metadata.labels: Invalid value: "c d": a valid label',
    ),
    (
        {"name": "w", "namespace": "d", "annotations": {"a b": ""}},
        'metadata.annotations: Invalid value: "a b"',
    ),
    (
        {"name": "w", "namespace": "d", "annotations": {"big": "x" * 262142}},
        "metadata.annotations: Too long: may not be more than 262144 bytes",
    ),
    (
        {"name": "w", "namespace": "d", "generation": -1},
        "metadata.generation: Invalid value: -1: must be greater",
    ),
    ({"name": "w", "namespace": "d", "finalizers": ["a b"]}, 'metadata.finalizers: Invalid value: "a b"'),
    (
        {"name": "w", "namespace": "d", "finalizers": ["orphan", "foregroundDeletion"]},
        "finalizer orphan and foregroundDeletion cannot be both set",
    ),
    (
        {
            "name": "w",
            "namespace": "d",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p"}],
        },
        "metadata.ownerReferences[0].uid: Required value: must not be empty",
    ),
    (
        {
            "name": "w",
            "namespace": "d",
            "ownerReferences": [{"apiVersion": "a/b/c", "kind": "K", "name": "n", "uid": "u"}],
        },
        'ownerReferences[0].apiVersion: Invalid value: "a/b/c": must be <group>/<version> or <version>',
    ),
    (
        {
            "name": "w",
            "namespace": "d",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
                {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True},
            ],
        },
        'Only one reference can have Controller set to true. Found "true" in references for A/a and B/b',
    ),
]


@pytest.mark.parametrize(
    ("meta", "message"),
    METADATA_ERRORS,
    ids=[
        "no-name",
        "bad-name",
        "no-namespace",
        "bad-namespace",
        "bad-generate-name",
        "label-key",
        "label-value",
        "annotation-key",
        "annotation-size",
        "generation",
        "finalizer",
        "finalizer-conflict",
        "owner-uid",
        "owner-api-version",
        "two-controllers",
    ],
)
def test_metadata_errors_are_worded_as_upstream(meta: dict[str, object], message: str) -> None:
    messages = _messages(meta)
    assert any(message in m for m in messages), messages


def test_cluster_scoped_kinds_forbid_a_namespace() -> None:
    errs = validation.validate_object_meta({"name": "node-1", "namespace": "x"}, namespaced=False)
    assert [(e.field, e.type) for e in errs] == [("metadata.namespace", FieldErrorType.FORBIDDEN)]
    assert errs[0].message() == "metadata.namespace: Forbidden: not allowed on this type"


def test_services_use_the_dns1035_name_rule() -> None:
    errs = validation.validate_object_meta(
        {"name": "1web", "namespace": "d"}, namespaced=True, name_validator=validation.name_is_dns1035_label
    )
    assert [e.field for e in errs] == ["metadata.name"]
    assert "DNS-1035" in errs[0].detail


def test_update_checks_immutable_fields_and_resource_version() -> None:
    old = {"name": "w", "namespace": "d", "uid": "1", "generation": 2, "resourceVersion": "5"}
    new = {"name": "w2", "namespace": "d", "uid": "1", "generation": 1}
    messages = [e.message() for e in validation.validate_object_meta_update(new, old)]
    assert 'metadata.resourceVersion: Invalid value: "": must be specified for an update' in messages
    assert "metadata.generation: Invalid value: 1: must not be decremented" in messages
    assert 'metadata.name: Invalid value: "w2": field is immutable' in messages


def test_no_new_finalizers_while_deleting() -> None:
    old = {
        "name": "w",
        "resourceVersion": "1",
        "deletionTimestamp": "2024-01-01T00:00:00Z",
        "finalizers": ["a"],
    }
    new = {**old, "finalizers": ["a", "b"]}
    messages = [e.message() for e in validation.validate_object_meta_update(new, old)]
    assert messages == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"b"}'
    ]


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_every_dns_label_is_a_subdomain_and_a_label_value(value: str) -> None:
    assert validation.is_dns1123_label(value) == []
    assert validation.is_dns1123_subdomain(value) == []
    assert validation.is_valid_label_value(value) == []
    assert validation.is_qualified_name(value) == []


@given(st.text(min_size=1, max_size=70))
def test_a_valid_label_value_is_a_valid_qualified_name(value: str) -> None:
    if validation.is_valid_label_value(value) == []:
        assert validation.is_qualified_name(value) == []
