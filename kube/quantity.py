"""Resource quantities (``500m``, ``128Mi``, ``1e3``), parsed and printed as upstream's ``resource.Quantity``.

Grammar (upstream's)::

    <quantity> ::= <sign>? <digits>? ("." <digits>?)? <suffix>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei          (BinarySI, powers of 1024)
                 | n | u | m | "" | k | M | G | T | P | E  (DecimalSI, powers of 1000)
                 | e <signed int> | E <signed int>       (DecimalExponent)

What a ``Quantity`` promises, all as upstream:

* The value is exact, never a float: it is kept as a whole number of nano-units (``nanos``), because parsing
  rounds any finer value away from zero to the next nano (``0.9n`` is ``1n``). Binary quantities are capped at
  2^63-1; decimal ones are not capped.
* The format of the suffix is remembered and ``str()`` gives the canonical form in that format: no fraction,
  the largest suffix that loses nothing (``1.5`` -> ``1500m``, ``1.5Gi`` -> ``1536Mi``, ``1000M`` -> ``1G``,
  ``1e4`` -> ``10e3``). A binary quantity below 1024 or with a fraction prints in DecimalSI.
* As upstream, an input already in the cheap-to-check canonical shape is printed back verbatim
  (``1.500`` stays ``1.500``, ``+1`` stays ``+1``): the server echoes what clients sent.
* Equality, ordering and hashing compare values only (``1Ki == 1024``); arithmetic keeps the left
  operand's format unless it is zero.

``parse`` is memoised: quantities in pod specs repeat, and a hit costs one dictionary lookup. Building a
``Quantity`` costs a frozen-dataclass construction (about 1-2 us here), so hot loops such as the
scheduler's sums should add ``nanos`` or ``milli_value()`` integers and wrap the result once.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re

from kube.errors import QuantityError

_SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE_STRING}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_NANO = 10**9
_MAX_INT64 = 2**63 - 1
_MAX_EXPONENT = 1000  # beyond upstream: 10**(2**31) cannot be held exactly, so absurd exponents are refused


class Format(enum.StrEnum):
    """How a quantity prints: upstream's ``resource.Format``."""

    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = {e // 10: s for s, e in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_EXPONENT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Quantity:
    """An exact amount in nano-units with the format it prints in.

    ``text`` is the string form when already known (the parsed input if upstream would keep it, else
    filled on first ``str()``); it takes no part in equality.
    """

    nanos: int
    format: Format = Format.DECIMAL_SI
    text: str = dataclasses.field(default="", repr=False)

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Parse a quantity string; raises ``QuantityError`` with upstream's message."""
        return parse(text)

    @classmethod
    def from_int(cls, value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        """``value`` units (upstream's ``NewQuantity``)."""
        return cls(nanos=value * _NANO, format=fmt)

    @classmethod
    def from_milli(cls, value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        """``value`` thousandths (upstream's ``NewMilliQuantity``): CPU in millicores."""
        return cls(nanos=value * 1_000_000, format=fmt)

    def value(self) -> int:
        """The value rounded up, away from zero, to a whole unit (upstream's ``Value``); bytes, cores."""
        return _ceil_away(self.nanos, _NANO)

    def milli_value(self) -> int:
        """The value in thousandths rounded up, away from zero (upstream's ``MilliValue``)."""
        return _ceil_away(self.nanos, 1_000_000)

    def scaled_value(self, scale: int) -> int:
        """The value in units of 10**scale, rounded up away from zero (upstream's ``ScaledValue``)."""
        shift = scale + 9
        if shift <= 0:
            factor: int = 10 ** (-shift)
            return self.nanos * factor
        return _ceil_away(self.nanos, 10**shift)

    def as_float(self) -> float:
        """The value as the nearest float (for ratios and scores, never for bookkeeping)."""
        return self.nanos / _NANO

    def is_zero(self) -> bool:
        return self.nanos == 0

    def sign(self) -> int:
        return (self.nanos > 0) - (self.nanos < 0)

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(
            nanos=self.nanos + other.nanos, format=other.format if self.nanos == 0 else self.format
        )

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(
            nanos=self.nanos - other.nanos, format=other.format if self.nanos == 0 else self.format
        )

    def __neg__(self) -> Quantity:
        return Quantity(nanos=-self.nanos, format=self.format)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.nanos == other.nanos

    def __hash__(self) -> int:
        return hash(self.nanos)

    def __lt__(self, other: Quantity) -> bool:
        return self.nanos < other.nanos

    def __le__(self, other: Quantity) -> bool:
        return self.nanos <= other.nanos

    def __gt__(self, other: Quantity) -> bool:
        return self.nanos > other.nanos

    def __ge__(self, other: Quantity) -> bool:
        return self.nanos >= other.nanos

    def __str__(self) -> str:
        if not self.text:
            object.__setattr__(self, "text", canonicalize(self.nanos, self.format))
        return self.text


ZERO = Quantity(nanos=0)


def parse(text: str) -> Quantity:
    """Parse a quantity string, as upstream's ``ParseQuantity``; raises ``QuantityError``."""
    return _parse_cached(text)


def canonicalize(nanos: int, fmt: Format) -> str:
    """The canonical string of an amount in a format (upstream's ``CanonicalizeBytes``)."""
    if nanos == 0:
        return "0"
    if fmt is Format.BINARY_SI:
        if -1024 * _NANO < nanos < 1024 * _NANO or nanos % _NANO:
            fmt = Format.DECIMAL_SI  # small or fractional: printing in 1024s would round
        else:
            amount, power = _remove_factors(nanos // _NANO, 1024)
            while power > 6:  # beyond Ei (only reachable by arithmetic): keep the value, upstream would not
                amount, power = amount * 1024, power - 1
            return f"{amount}{_BINARY_BY_POWER.get(power, '')}"
    amount, exponent = _remove_factors(nanos, 10)
    exponent -= 9
    while exponent % 3:
        amount, exponent = amount * 10, exponent - 1
    if fmt is Format.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return f"{amount}{_DECIMAL_BY_EXPONENT[exponent]}"
    return f"{amount}e{exponent}" if exponent else str(amount)


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Quantity:
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(nanos=0, format=Format.DECIMAL_SI, text="0")
    positive, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)

    # Upstream's int64 fast path; only its condition matters here, since it decides whether the input string
    # is kept as the printed form.
    if fmt is Format.BINARY_SI:
        exact_int = exponent >= 0 and not denom
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1 if exact_int else -1
        scale = 0
    else:
        precision = 18 - (len(num) + len(denom))
        scale = exponent
    scale -= len(denom)
    if precision >= 0 and scale >= -9:
        shifted = num + denom
        magnitude = int(shifted) << exponent if fmt is Format.BINARY_SI else int(shifted)
        if magnitude <= _MAX_INT64:
            kept = ""
            if fmt is Format.BINARY_SI:
                if exponent % 10 == 0 and int(shifted) & 0x07:
                    kept = text
            elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                kept = text
            nanos = magnitude * 10 ** (scale + 9)
            return Quantity(nanos=nanos if positive else -nanos, format=fmt, text=kept)

    # Exact path: scale the digits, round to nano away from zero, cap binary amounts at 2^63-1.
    if not any(c in _DIGITS for c in text[: len(text) - len(suffix)]):
        raise QuantityError(ERR_NUMERIC)  # upstream's decimal parse of "", "+" or "." fails here
    digits = int(num + denom)
    numerator, denominator = digits, 10 ** len(denom)
    if base == 10:
        if exponent >= 0:
            numerator *= 10**exponent
        else:
            denominator *= 10**-exponent
    else:
        numerator <<= exponent
    nanos = -(-numerator * _NANO // denominator)  # ceiling of a non-negative amount
    if fmt is Format.BINARY_SI:
        nanos = min(nanos, _MAX_INT64 * _NANO)
        if 0 < nanos < _NANO:
            fmt = Format.DECIMAL_SI  # avoids rounding a fraction of a byte, and confusion
    return Quantity(nanos=nanos if positive else -nanos, format=fmt)


def _split(text: str) -> tuple[bool, str, str, str]:
    """Upstream's ``parseQuantityString``: sign, integer digits (no leading zeros, "0" if none),
    fraction digits, suffix."""
    positive, pos, end = True, 0, len(text)
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """Upstream's suffixer: ``(base, exponent, format)`` of a suffix."""
    exponent = _DECIMAL_SUFFIXES.get(suffix)
    if exponent is not None:
        return 10, exponent, Format.DECIMAL_SI
    exponent = _BINARY_SUFFIXES.get(suffix)
    if exponent is not None:
        return 2, exponent, Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT_RE.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if -_MAX_INT64 - 1 <= exponent <= _MAX_INT64:
            exponent = (exponent + 2**31) % 2**32 - 2**31  # upstream narrows to int32
            if abs(exponent) > _MAX_EXPONENT:
                raise QuantityError(f"quantity exponent {exponent} is out of range (at most {_MAX_EXPONENT})")
            return 10, exponent, Format.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _remove_factors(value: int, base: int) -> tuple[int, int]:
    negative = value < 0
    if negative:
        value = -value
    times = 0
    while value >= base and value % base == 0:
        value //= base
        times += 1
    return (-value if negative else value), times


def _ceil_away(nanos: int, unit: int) -> int:
    """``nanos / unit`` rounded away from zero."""
    quotient = -(-abs(nanos) // unit)
    return quotient if nanos >= 0 else -quotient
