"""Label selectors: parsed once, matched many times.

The string syntax is apimachinery's ``labels.Parse`` (what ``kubectl -l`` and ``?labelSelector=`` accept)::

    environment=production,tier!=frontend      # equality: =, ==, !=
    environment in (production, qa)            # sets: in, notin
    partition, !partition                      # exists, does not exist
    replicas>1, replicas<5                     # integer comparisons

``parse`` ports upstream's lexer and parser, including its error messages (``unable to parse requirement:
found 'x' expected: '('``), and validates keys as qualified names and values as label values.
``from_label_selector`` converts the API's ``LabelSelector`` (``matchLabels``, ``matchExpressions``) like
upstream's ``LabelSelectorAsSelector``: ``None`` selects nothing, an empty selector selects everything.

A ``Selector`` is an immutable value: requirements sorted by key (as upstream, for a deterministic
string form), equality by requirements, ``str()`` the canonical string that parses back to an equal
selector. ``matches`` walks a precompiled tuple and does one dict lookup per requirement. Parsing is
memoised, so a selector string seen before costs a dictionary lookup.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kube import validation
from kube.errors import SelectorError


class Operator(enum.StrEnum):
    """apimachinery's ``selection.Operator``."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")
_INT64 = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT64_MAX = 2**63 - 1

# How each operator matches, as a small int so ``matches`` branches on an int compare.
_IN, _NOT_IN, _EXISTS, _NOT_EXISTS, _GT, _LT, _NEVER = range(7)
_CODE = {
    Operator.IN: _IN,
    Operator.EQUALS: _IN,
    Operator.DOUBLE_EQUALS: _IN,
    Operator.NOT_IN: _NOT_IN,
    Operator.NOT_EQUALS: _NOT_IN,
    Operator.EXISTS: _EXISTS,
    Operator.DOES_NOT_EXIST: _NOT_EXISTS,
    Operator.GREATER_THAN: _GT,
    Operator.LESS_THAN: _LT,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """One ``key operator values`` term. ``values`` is sorted and free of duplicates."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether these labels satisfy the term (a missing key satisfies ``notin``, ``!=`` and ``!``)."""
        return _matches_compiled(*_compile(self), labels)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op is Operator.EXISTS:
            return self.key
        values = ",".join(self.values)
        if op is Operator.IN or op is Operator.NOT_IN:
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


def requirement(
    key: str, operator: Operator, values: Iterable[str] = (), *, path: str | None = None
) -> Requirement:
    """Build a checked requirement, as upstream's ``NewRequirement``; raises ``SelectorError``.

    ``path`` prefixes field paths in messages (``None`` is upstream's nil path).
    """
    vals = list(values)
    errs: list[str] = []
    key_path = "key" if path is None else f"{path}.key"
    if msgs := validation.is_qualified_name(key):
        errs.append(_invalid(key_path, key, "; ".join(msgs)))
    value_path = "values" if path is None else f"{path}.values"
    if operator in (Operator.IN, Operator.NOT_IN):
        if not vals:
            errs.append(_invalid(value_path, vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid(value_path, vals, "exact-match compatibility requires one single value"))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            errs.append(_invalid(value_path, vals, "values set must be empty for exists and does not exist"))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            errs.append(_invalid(value_path, vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(
                    _invalid(
                        f"{value_path}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    for i, v in enumerate(vals):
        if msgs := validation.is_valid_label_value(v):
            errs.append(_invalid(f"{value_path}[{i}][{key}]", v, "; ".join(msgs)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key=key, operator=Operator(operator), values=tuple(sorted(set(vals))))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    """An AND of requirements, sorted by key; ``nothing`` marks upstream's ``labels.Nothing()``."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False
    _compiled: tuple[tuple[str, int, Any], ...] = dataclasses.field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.requirements, key=lambda r: r.key))
        object.__setattr__(self, "requirements", ordered)
        compiled = [_compile(r) for r in ordered]
        if self.nothing:
            compiled = [("", _NEVER, None)]
        object.__setattr__(self, "_compiled", tuple(compiled))

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (it matches every label set)."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies every requirement."""
        for key, code, operand in self._compiled:
            if code == _IN:
                value = labels.get(key)
                if value is None or (value != operand if type(operand) is str else value not in operand):
                    return False
            elif not _matches_compiled(key, code, operand, labels):
                return False
        return True

    def requires_exact_match(self, key: str) -> str | None:
        """The value ``key`` must have for a match, if the selector pins one (``key=v``, ``key in (v)``)."""
        for r in self.requirements:
            if r.key == key:
                exact = r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return r.values[0] if exact and len(r.values) == 1 else None
        return None

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with more requirements (this one is unchanged)."""
        if self.nothing:
            return self
        return Selector(requirements=self.requirements + requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def everything() -> Selector:
    """The selector that matches every label set (upstream's ``labels.Everything()``)."""
    return EVERYTHING


def nothing() -> Selector:
    """The selector that matches no label set (upstream's ``labels.Nothing()``); prints as ``""``."""
    return NOTHING


def from_set(labels: Mapping[str, str]) -> Selector:
    """``key=value`` for every entry, unchecked (upstream's ``SelectorFromSet``); empty selects all."""
    return Selector(
        requirements=tuple(
            Requirement(key=k, operator=Operator.EQUALS, values=(v,)) for k, v in labels.items()
        )
    )


def from_validated_set(labels: Mapping[str, str]) -> Selector:
    """As ``from_set``, but every key and value is checked; raises ``SelectorError``."""
    return Selector(requirements=tuple(requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items()))


_LABEL_SELECTOR_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """Convert an API ``LabelSelector`` dict, as upstream's ``LabelSelectorAsSelector``.

    ``None`` selects nothing; ``{}`` selects everything; bad operators, keys or values raise
    ``SelectorError`` worded as upstream.
    """
    if selector is None:
        return NOTHING
    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    expressions: Sequence[Mapping[str, Any]] = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    reqs = [requirement(k, Operator.EQUALS, (v,)) for k, v in match_labels.items()]
    for expr in expressions:
        raw = expr.get("operator", "")
        op = _LABEL_SELECTOR_OPERATORS.get(raw)
        if op is None:
            raise SelectorError(f"{json.dumps(str(raw))} is not a valid label selector operator")
        reqs.append(requirement(str(expr.get("key", "")), op, expr.get("values") or ()))
    return Selector(requirements=tuple(reqs))


def parse(text: str) -> Selector:
    """Parse the string syntax, as upstream's ``labels.Parse``; raises ``SelectorError``."""
    return _parse_cached(text)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Selector:
    return Selector(requirements=tuple(_Parser(text).parse()))


# --- lexer and parser: a port of apimachinery's, kept close so its error messages carry over -----------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT_TOK, _ID, _IN_TOK, _LT_TOK, _NEQ, _NOTIN, _OPEN = range(14)
_STRING_TO_TOKEN = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT_TOK,
    "in": _IN_TOK,
    "<": _LT_TOK,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, end = 0, len(s)
    while True:
        while pos < end and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= end or s[pos] == "\0":
            items.append((_EOS, ""))
            return items
        if s[pos] in _SPECIAL:
            buffer, last, last_end = "", None, pos
            while pos < end and s[pos] in _SPECIAL:
                buffer += s[pos]
                pos += 1
                token = _STRING_TO_TOKEN.get(buffer)
                if token is not None:
                    last, last_end = (token, buffer), pos
                elif last is not None:
                    break
            if last is None:
                items.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
                pos = last_end
        else:
            start = pos
            while pos < end and s[pos] not in _SPECIAL and s[pos] not in _WHITESPACE and s[pos] != "\0":
                pos += 1
            word = s[start:pos]
            items.append((_STRING_TO_TOKEN.get(word, _ID), word))


class _Parser:
    """Recursive descent over the scanned tokens; ``values`` context reads ``in``/``notin`` as words."""

    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._pos = 0

    def _lookahead(self, values: bool) -> tuple[int, str]:
        tok, lit = self._items[self._pos]
        return (_ID, lit) if values and tok in (_IN_TOK, _NOTIN) else (tok, lit)

    def _consume(self, values: bool) -> tuple[int, str]:
        item = self._lookahead(values)
        self._pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._lookahead(True)
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self._requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                tok, lit = self._consume(True)
                if tok == _EOS:
                    return reqs
                if tok != _COMMA:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
                tok2, lit2 = self._lookahead(True)
                if tok2 not in (_ID, _NOT):
                    raise SelectorError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        operator: Operator | None = None
        tok, key = self._consume(True)
        if tok == _NOT:
            operator = Operator.DOES_NOT_EXIST
            tok, key = self._consume(True)
        if tok != _ID:
            raise SelectorError(f"found '{key}', expected: identifier")
        if msgs := validation.is_qualified_name(key):
            raise SelectorError(_invalid("<nil>", key, "; ".join(msgs)))
        if operator is None and self._lookahead(True)[0] in (_EOS, _COMMA):
            operator = Operator.EXISTS
        if operator is not None:  # "!key" never takes an operator: what follows must be ',' or the end
            return requirement(key, operator)
        tok, lit = self._consume(False)
        operator = _OPERATOR_TOKENS.get(tok)
        if operator is None:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        values = self._values() if operator in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return requirement(key, operator, sorted(values))

    def _values(self) -> set[str]:
        tok, lit = self._consume(True)
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._lookahead(True)
        if tok in (_ID, _COMMA):
            values = self._identifiers()
            if self._consume(True)[0] != _CLOSE:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE:
            self._consume(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._consume(True)
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self._lookahead(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")  # "(,"
                tok2 = self._lookahead(True)[0]
                if tok2 == _CLOSE:
                    values.add("")  # ",)"
                    return values
                if tok2 == _COMMA:
                    values.add("")  # ",,"
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._lookahead(True)[0] in (_EOS, _COMMA):
            return {""}
        tok, lit = self._consume(True)
        if tok == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


_OPERATOR_TOKENS = {
    _IN_TOK: Operator.IN,
    _EQ: Operator.EQUALS,
    _DEQ: Operator.DOUBLE_EQUALS,
    _GT_TOK: Operator.GREATER_THAN,
    _LT_TOK: Operator.LESS_THAN,
    _NOTIN: Operator.NOT_IN,
    _NEQ: Operator.NOT_EQUALS,
}


def _parse_int64(value: str) -> int | None:
    if not _INT64.fullmatch(value):
        return None
    number = int(value)
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else None


def _compile(r: Requirement) -> tuple[str, int, Any]:
    """A requirement as ``(key, code, operand)``: operand a str, a frozenset, or an int for gt/lt."""
    code = _CODE[r.operator]
    operand: Any
    if code in (_GT, _LT):
        operand = _parse_int64(r.values[0]) if len(r.values) == 1 else None
        if operand is None:
            code = _NEVER
    elif len(r.values) == 1:
        operand = r.values[0]
    else:
        operand = frozenset(r.values)
    return r.key, code, operand


def _matches_compiled(key: str, code: int, operand: Any, labels: Mapping[str, str]) -> bool:
    value = labels.get(key)
    if code == _NOT_IN:
        return value is None or (value != operand if type(operand) is str else value not in operand)
    if code == _EXISTS:
        return value is not None
    if code == _NOT_EXISTS:
        return value is None
    if code == _IN:
        return value is not None and (value == operand if type(operand) is str else value in operand)
    if code in (_GT, _LT) and value is not None:
        number = _parse_int64(value)
        if number is None:
            return False
        limit: int = operand
        return number > limit if code == _GT else number < limit
    return False


def _invalid(path: str, value: object, detail: str) -> str:
    """apimachinery's ``field.Invalid(...).Error()``: strings quoted, other values as JSON."""
    rendered = json.dumps(value if value != [] else None, ensure_ascii=False, separators=(",", ":"))
    return f"{path}: Invalid value: {rendered}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """apimachinery's ``utilerrors.NewAggregate(...).Error()``: one message, or ``[a, b]`` deduplicated."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
