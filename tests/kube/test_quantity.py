"""Quantities: upstream's parse and canonicalisation tables (quantity_test.go), accessors, arithmetic."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube import quantity
from kube.errors import QuantityError
from kube.quantity import Format, Quantity

MAX_INT64 = 2**63 - 1

# upstream TestQuantityParse: input -> (exact value, format).
PARSE = [
    ("0", 0, Format.DECIMAL_SI),
    ("0n", 0, Format.DECIMAL_SI),
    ("0Ki", 0, Format.BINARY_SI),
    ("0M", 0, Format.DECIMAL_SI),
    ("1", 1, Format.DECIMAL_SI),
    ("1Ki", 1024, Format.BINARY_SI),
    ("8Ki", 8 * 1024, Format.BINARY_SI),
    ("7Mi", 7 * 2**20, Format.BINARY_SI),
    ("6Gi", 6 * 2**30, Format.BINARY_SI),
    ("5Ti", 5 * 2**40, Format.BINARY_SI),
    ("4Pi", 4 * 2**50, Format.BINARY_SI),
    ("3Ei", 3 * 2**60, Format.BINARY_SI),
    ("100Ti", 100 * 2**40, Format.BINARY_SI),
    ("5n", Fraction(5, 10**9), Format.DECIMAL_SI),
    ("4u", Fraction(4, 10**6), Format.DECIMAL_SI),
    ("3m", Fraction(3, 1000), Format.DECIMAL_SI),
    ("50k", 50_000, Format.DECIMAL_SI),
    ("40T", 40 * 10**12, Format.DECIMAL_SI),
    ("1E", 10**18, Format.DECIMAL_SI),
    ("1E-3", Fraction(1, 1000), Format.DECIMAL_EXPONENT),
    ("1e3", 1000, Format.DECIMAL_EXPONENT),
    ("1E18", 10**18, Format.DECIMAL_EXPONENT),
    ("1e14", 10**14, Format.DECIMAL_EXPONENT),
    ("100.035k", 100_035, Format.DECIMAL_SI),
    ("0.0005k", Fraction(1, 2), Format.DECIMAL_SI),
    ("0.00500", Fraction(5, 1000), Format.DECIMAL_SI),
    ("0.5e-2", Fraction(5, 1000), Format.DECIMAL_EXPONENT),
    ("1.3E+6", 1_300_000, Format.DECIMAL_EXPONENT),
    ("6.987654321G", 6_987_654_321, Format.DECIMAL_SI),
    ("1.01E", 101 * 10**16, Format.DECIMAL_SI),
    ("3.001n", Fraction(4, 10**9), Format.DECIMAL_SI),
    ("1.1E-9", Fraction(2, 10**9), Format.DECIMAL_EXPONENT),
    ("0.0000000001", Fraction(1, 10**9), Format.DECIMAL_SI),
    ("0.9n", Fraction(1, 10**9), Format.DECIMAL_SI),
    ("0.00000012345", Fraction(124, 10**9), Format.DECIMAL_SI),
    ("9Ei", MAX_INT64, Format.BINARY_SI),
    ("9223372036854775807Ki", MAX_INT64, Format.BINARY_SI),
    ("12E", 12 * 10**18, Format.DECIMAL_SI),
    ("100.035Ki", Fraction(10243584, 100), Format.BINARY_SI),
    ("0.5Mi", 2**19, Format.BINARY_SI),
    ("0.025Ti", Fraction(274877906944, 10), Format.BINARY_SI),
    ("0.000000000001Ki", Fraction(2, 10**9), Format.DECIMAL_SI),
    (".001", Fraction(1, 1000), Format.DECIMAL_SI),
    (".0001k", Fraction(1, 10), Format.DECIMAL_SI),
    ("1.", 1, Format.DECIMAL_SI),
    ("1.G", 10**9, Format.DECIMAL_SI),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSE, ids=[p[0] for p in PARSE])
@pytest.mark.parametrize("sign", ["", "+", "-"])
def test_upstream_parse_table(text: str, value: Fraction | int, fmt: Format, sign: str) -> None:
    q = quantity.parse(sign + text)
    expected = -Fraction(value) if sign == "-" else Fraction(value)
    assert Fraction(q.nanos, 10**9) == expected
    assert q.format is fmt


# upstream TestQuantityString, TestQuantityParseEmit and TestParseQuantity: input -> canonical string.
CANONICAL = [
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("300Mi", "300Mi"),
    ("307200Ki", "300Mi"),
    ("1025024Mi", "1001Gi"),
    ("1024Gi", "1Ti"),
    ("5000m", "5"),
    ("0.5", "500m"),
    ("1000M", "1G"),
    ("0.001T", "1G"),
    ("1000u", "1m"),
    ("1.08", "1080m"),
    ("1080000000n", "1080m"),
    ("1025", "1025"),
    (".001e12", "1e9"),
    ("0.001e0", "1e-3"),
    ("1000e-12", "1e-9"),
    ("80e-3", "80e-3"),
    ("300e6", "300e6"),
    ("00", "0"),
    ("1080n", "1080n"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("1000m", "1"),
    ("1e3", "1e3"),
    ("1e4", "10e3"),
    ("1.5Gi", "1536Mi"),
    ("128974848", "128974848"),
    ("129e6", "129e6"),
    ("12Mi", "12Mi"),
    ("0.5Mi", "512Ki"),
    ("1.2345", "1234500u"),
    ("999999999999999999.1", "999999999999999999100m"),
    ("1000000000000000000", "1E"),
    ("1.0E", "1E"),
    ("9999999999999999999000m", "9999999999999999999"),
    ("1.0000000000000000001E", "1000000000000000000100m"),
    ("1.000000000000000001E", "1000000000000000001"),
    ("10.0E", "10E"),
    ("10000000000000000000000m", "10E"),
    ("9223372036854775808.1", "9223372036854775808100m"),
    ("1000E", "1e21"),
    ("9Ei", "9223372036854775807"),
    ("-0.5Ki", "-512"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_upstream_canonical_form(text: str, canonical: str) -> None:
    q = quantity.parse(text)
    assert str(q) == canonical
    assert quantity.parse(canonical) == q
    assert str(quantity.parse(canonical)) == canonical


@pytest.mark.parametrize(
    "text", ["1Ki", "1G", "500m", "1e3", "+1", "1E3", "1.500", "1.G", "999999999999999999"]
)
def test_input_already_in_canonical_shape_prints_back_verbatim(text: str) -> None:
    assert str(quantity.parse(text)) == text


def test_negative_quantities_print_with_a_minus_sign() -> None:
    for text, canonical in CANONICAL:
        q = quantity.parse(text)
        if not q.is_zero() and not text.startswith("-"):
            assert str(-q) == "-" + canonical


INVALID = [
    ("", quantity.ERR_FORMAT_WRONG),
    ("1.1.M", quantity.ERR_FORMAT_WRONG),
    ("1+1.0M", quantity.ERR_FORMAT_WRONG),
    ("0.1mi", quantity.ERR_SUFFIX),
    ("0.1am", quantity.ERR_FORMAT_WRONG),
    ("aoeu", quantity.ERR_FORMAT_WRONG),
    (".5i", quantity.ERR_SUFFIX),
    ("1i", quantity.ERR_SUFFIX),
    ("-3.01i", quantity.ERR_SUFFIX),
    ("-3.01e-", quantity.ERR_SUFFIX),
    (" 1", quantity.ERR_FORMAT_WRONG),
    ("1 ", quantity.ERR_FORMAT_WRONG),
    ("e-10", quantity.ERR_NUMERIC),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[repr(t) for t, _ in INVALID])
def test_upstream_invalid_inputs(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        quantity.parse(text)
    assert str(err.value) == message


def test_format_error_quotes_the_upstream_regular_expression() -> None:
    assert quantity.ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [("1", 1, 1000), ("100m", 1, 100), ("1.5", 2, 1500), ("1n", 1, 1), ("128Mi", 134217728, 134217728000)],
    ids=["one", "100m", "1.5", "1n", "128Mi"],
)
def test_value_and_milli_value_round_up(text: str, value: int, milli: int) -> None:
    q = quantity.parse(text)
    assert q.value() == value
    assert q.milli_value() == milli


def test_scaled_value_and_float() -> None:
    q = quantity.parse("1.5Gi")
    assert q.scaled_value(6) == 1611  # ceil(1610612736 / 1e6)
    assert q.scaled_value(-3) == q.milli_value()
    assert q.as_float() == 1610612736.0
    assert quantity.parse("250m").as_float() == 0.25


def test_comparison_is_by_value_across_formats() -> None:
    assert quantity.parse("1Ki") == quantity.parse("1024")
    assert hash(quantity.parse("1Ki")) == hash(quantity.parse("1.024k"))
    assert quantity.parse("999m") < quantity.parse("1") <= quantity.parse("1000m") < quantity.parse("1001m")
    assert max(quantity.parse(x) for x in ["1Gi", "1G", "1000Mi"]) == quantity.parse("1Gi")


def test_arithmetic_keeps_the_left_format_unless_it_is_zero() -> None:
    total = quantity.parse("1Gi") + quantity.parse("512Mi")
    assert str(total) == "1536Mi"
    assert str(quantity.ZERO + quantity.parse("1Ki")) == "1Ki"
    assert str(quantity.parse("1") - quantity.parse("250m")) == "750m"
    assert str(quantity.ZERO - quantity.parse("1Ki")) == "-1Ki"
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity.from_int(5, Format.BINARY_SI)) == "5"


def test_huge_binary_sums_keep_their_value() -> None:
    big = quantity.parse("8Ei")
    total = big + big + big
    assert quantity.parse(str(total)) == total


# --- properties -----------------------------------------------------------------------------------------

suffixes = st.sampled_from(
    ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
)
exponents = st.integers(-12, 30).map(lambda e: f"e{e}")
numbers = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{frac}",
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 10**20).map(str),
    st.one_of(st.just(""), st.integers(0, 10**12).map(lambda f: f".{f}")),
)
quantity_strings = st.builds(lambda n, s: n + s, numbers, st.one_of(suffixes, exponents))


@given(quantity_strings)
def test_canonical_string_round_trips(text: str) -> None:
    q = quantity.parse(text)
    canonical = str(q)
    again = quantity.parse(canonical)
    assert again == q
    assert str(again) == canonical


@given(quantity_strings)
def test_canonical_string_has_no_fraction(text: str) -> None:
    q = quantity.parse(text)
    q_fresh = Quantity(nanos=q.nanos, format=q.format)  # the computed form, not a kept input
    assert "." not in str(q_fresh) and "+" not in str(q_fresh)
    assert quantity.parse(str(q_fresh)) == q


@given(quantity_strings, quantity_strings)
def test_addition_and_subtraction_are_exact(a: str, b: str) -> None:
    qa, qb = quantity.parse(a), quantity.parse(b)
    assert (qa + qb) - qb == qa
    assert (qa + qb).nanos == qa.nanos + qb.nanos


@given(numbers, st.text(alphabet="abcdfghjlopqrstvwxyzABCDFHIJLNOQRSUVWXYZ_ /", min_size=1, max_size=3))
def test_malformed_suffixes_raise_a_quantity_error(number: str, junk: str) -> None:
    with pytest.raises(QuantityError, match=r"quantities must match|unable to parse quantity.s suffix"):
        quantity.parse(number + junk)
