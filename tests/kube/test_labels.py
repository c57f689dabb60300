"""Label selectors: the Kubernetes docs' examples, upstream's parser tables, LabelSelector conversion."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import labels
from kube.errors import SelectorError
from kube.labels import Operator

PROD_FRONTEND = {"environment": "production", "tier": "frontend"}
QA_BACKEND = {"environment": "qa", "tier": "backend", "partition": "customerA"}
DEV_CACHE = {"environment": "dev", "tier": "cache"}

# The examples of the "Labels and Selectors" concept page.
DOCS = [
    ("environment = production", "environment=production", [True, False, False]),
    ("tier != frontend", "tier!=frontend", [False, True, True]),
    ("environment=production,tier!=frontend", "environment=production,tier!=frontend", [False, False, False]),
    ("environment in (production, qa)", "environment in (production,qa)", [True, True, False]),
    ("tier notin (frontend, backend)", "tier notin (backend,frontend)", [False, False, True]),
    ("partition", "partition", [False, True, False]),
    ("!partition", "!partition", [True, False, True]),
]


@pytest.mark.parametrize(("text", "canonical", "expected"), DOCS, ids=[d[0] for d in DOCS])
def test_docs_examples_parse_print_and_match(text: str, canonical: str, expected: list[bool]) -> None:
    selector = labels.parse(text)
    assert str(selector) == canonical
    assert [selector.matches(ls) for ls in (PROD_FRONTEND, QA_BACKEND, DEV_CACHE)] == expected


# upstream TestSelectorParse: good strings print back without their spaces.
GOOD = ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"]


@pytest.mark.parametrize("text", GOOD, ids=GOOD)
def test_upstream_good_strings_restring_without_spaces(text: str) -> None:
    assert str(labels.parse(text)) == text.replace(" ", "")


# upstream TestSetSelectorParser: (input, canonical string) for the valid rows.
SET_PARSER = [
    ("\rx", "x"),
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    (
        "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
        "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
    ),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in (abc,abc)", "x in (abc)"),
    ("x in ()", "x in ()"),
    ("x in (a,,a,,a,,a,,)", "x in (,a)"),
    ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("a ", "a"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
    ("notin=in", "notin=in"),
]


@pytest.mark.parametrize(("text", "canonical"), SET_PARSER, ids=[repr(t) for t, _ in SET_PARSER])
def test_upstream_set_parser_table(text: str, canonical: str) -> None:
    assert str(labels.parse(text)) == canonical


BAD = [
    ("x=a||y=b", 'unable to parse requirement: values[0][x]: Invalid value: "a||y"'),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x,,y", "found ',', expected: identifier after ','"),
    (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
    ("x nott in (y)", "found 'nott', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in (xyz),", "found '', expected: identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
    ("a in (xyz abc)", "found 'abc', expected: ',' or ')'"),
    ("a notin(", "found '', expected: ',', ')' or identifier"),
    ("a (", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a=(", "found '(', expected: identifier"),
    ("Bad Key", "found 'Key', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("-a=b", '<nil>: Invalid value: "-a": name part must consist of alphanumeric characters'),
    ("a=-b", 'values[0][a]: Invalid value: "-b": a valid label must be an empty string'),
    ("a=" + "v" * 64, "must be no more than 63 characters"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[t for t, _ in BAD])
def test_malformed_selectors_raise_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse(text)
    assert message in str(err.value)


MATCHES = [
    ("", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x>1", {"x": "two"}, False),
    ("x>1", {}, False),
    ("x notin (a)", {}, True),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (a,b)", {}, False),
    ("x=", {"x": ""}, True),
    ("x=", {}, False),
]


@pytest.mark.parametrize(
    ("text", "labelset", "expected"), MATCHES, ids=[f"{t!r}-{ls}" for t, ls, _ in MATCHES]
)
def test_upstream_match_table(text: str, labelset: dict[str, str], expected: bool) -> None:
    selector = labels.parse(text)
    assert selector.matches(labelset) is expected
    assert all(r.matches(labelset) for r in selector.requirements) is expected


def test_requirements_are_sorted_by_key_so_parsing_is_deterministic() -> None:
    assert labels.parse("x=a,a=x") == labels.parse("a=x,x=a")
    assert str(labels.parse("x=a,a=x")) == "a=x,x=a"


def test_empty_everything_and_nothing() -> None:
    assert labels.parse("").empty
    assert labels.everything().matches({"any": "thing"})
    nothing = labels.nothing()
    assert not nothing.empty and not nothing.matches({}) and str(nothing) == ""
    assert nothing != labels.everything()


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("app=web", "app", "web"),
        ("app==web,tier=db", "tier", "db"),
        ("app in (web)", "app", "web"),
        ("app in (web,api)", "app", None),
        ("app!=web", "app", None),
        ("app", "app", None),
        ("tier=db", "app", None),
    ],
    ids=["equals", "double-equals", "in-one", "in-two", "not-equals", "exists", "other-key"],
)
def test_requires_exact_match(text: str, key: str, expected: str | None) -> None:
    assert labels.parse(text).requires_exact_match(key) == expected


def test_from_set_and_validated_set() -> None:
    selector = labels.from_set({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.matches({"a": "1", "b": "2", "c": "3"}) and not selector.matches({"a": "1"})
    assert labels.from_set({}).empty
    with pytest.raises(SelectorError, match="values\\[0\\]\\[a\\]"):
        labels.from_validated_set({"a": "not valid"})


LABEL_SELECTORS = [
    ({"matchLabels": {"app": "web"}}, "app=web"),
    (
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "spot", "operator": "DoesNotExist"},
            ],
        },
        "app=web,env notin (dev),gpu,!spot,tier in (a,b)",
    ),
    ({}, ""),
    ({"matchLabels": {}, "matchExpressions": []}, ""),
]


@pytest.mark.parametrize(
    ("spec", "canonical"), LABEL_SELECTORS, ids=["labels", "expressions", "empty", "empty-lists"]
)
def test_label_selector_conversion(spec: dict[str, object], canonical: str) -> None:
    selector = labels.from_label_selector(spec)
    assert str(selector) == canonical
    assert selector.empty is (canonical == "")


def test_nil_label_selector_selects_nothing() -> None:
    assert labels.from_label_selector(None) is labels.nothing()
    assert not labels.from_label_selector(None).matches({})


LABEL_SELECTOR_ERRORS = [
    ({"key": "a", "operator": "Foo", "values": ["x"]}, '"Foo" is not a valid label selector operator'),
    (
        {"key": "a", "operator": "In"},
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
    ),
    (
        {"key": "a", "operator": "Exists", "values": ["x"]},
        'values: Invalid value: ["x"]: values set must be empty',
    ),
    ({"key": "a b", "operator": "Exists"}, 'key: Invalid value: "a b": name part must consist of'),
    ({"key": "a", "operator": "In", "values": ["b c"]}, 'values[0][a]: Invalid value: "b c"'),
]


@pytest.mark.parametrize(
    ("expression", "message"),
    LABEL_SELECTOR_ERRORS,
    ids=["operator", "no-values", "exists-values", "key", "value"],
)
def test_label_selector_errors_are_worded_as_upstream(expression: dict[str, object], message: str) -> None:
    with pytest.raises(SelectorError) as err:
        labels.from_label_selector({"matchExpressions": [expression]})
    assert message in str(err.value)


def test_several_problems_are_aggregated_in_brackets() -> None:
    with pytest.raises(SelectorError) as err:
        labels.requirement("a b", Operator.IN, [])
    assert str(err.value).startswith("[key: Invalid value") and "values: Invalid value: null" in str(
        err.value
    )


def test_add_returns_a_new_sorted_selector() -> None:
    base = labels.parse("b=1")
    more = base.add(labels.requirement("a", Operator.EXISTS))
    assert str(base) == "b=1" and str(more) == "a,b=1"


# --- properties -----------------------------------------------------------------------------------------

_name = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?", fullmatch=True)
keys = st.one_of(
    _name, st.builds(lambda p, n: f"{p}.io/{n}", st.from_regex(r"[a-z]{1,8}", fullmatch=True), _name)
)
values = st.one_of(st.just(""), _name)
ints = st.integers(0, 1000).map(str)  # "-1" is not a valid label value, so gt/lt take naturals


@st.composite
def requirements(draw: st.DrawFn) -> str:
    key = draw(keys)
    op = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if op == "exists":
        return key
    if op == "!":
        return "!" + key
    if op in (">", "<"):
        return f"{key}{op}{draw(ints)}"
    if op in ("in", "notin"):
        vals = draw(st.lists(values, min_size=1, max_size=3))
        return f"{key} {op} ({', '.join(vals)})"
    return f"{key}{op}{draw(values)}"


selector_strings = st.lists(requirements(), max_size=4).map(",".join)
label_sets = st.dictionaries(keys, st.one_of(values, ints), max_size=5)


@given(selector_strings, label_sets)
def test_canonical_string_round_trips_and_matches_the_same(text: str, labelset: dict[str, str]) -> None:
    selector = labels.parse(text)
    again = labels.parse(str(selector))
    assert again == selector
    assert str(again) == str(selector)
    assert again.matches(labelset) == selector.matches(labelset)


@given(selector_strings, label_sets)
def test_selector_matches_iff_every_requirement_matches(text: str, labelset: dict[str, str]) -> None:
    selector = labels.parse(text)
    assert selector.matches(labelset) == all(r.matches(labelset) for r in selector.requirements)


@given(keys, st.sampled_from(["in x", "in (", "=(", "notin", "in (a b)"]))
def test_malformed_requirements_raise_a_selector_error(key: str, tail: str) -> None:
    with pytest.raises(SelectorError, match="found"):
        labels.parse(f"{key} {tail}")


@given(st.from_regex(r"[A-Za-z0-9]{0,3}[^A-Za-z0-9\-_./=!(),<>\s\x00][A-Za-z0-9]{0,3}", fullmatch=True))
def test_keys_with_bad_characters_name_the_key(key: str) -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse(f"{key}=v")
    assert f"Invalid value: {json.dumps(key, ensure_ascii=False)}" in str(err.value)
