"""What a container's command makes it do: the few shell shapes tutorials and manifests use, played on time.

``of_command(words)`` reads ``command`` + ``args`` and gives a ``Script``: how long it runs, the code it
exits with, whether it handles SIGTERM, and the log lines it writes. Nothing is executed; a command kubemu
does not know is "real work" that runs until stopped, as a server would:

- no command (an image's own entrypoint): runs until stopped, exits 0 on SIGTERM;
- ``sleep N`` (``5``, ``5s``, ``1m``; also in ``sh -c``): runs N seconds, exits 0; ``sleep infinity`` runs
  until stopped. A shell waiting in ``sleep`` as PID 1 ignores SIGTERM: it is killed at the grace period's
  end (137);
- ``true``, ``:`` exit 0; ``false`` exits 1; ``exit N`` exits N; ``&&`` and ``||`` short-circuit;
- ``echo TEXT`` and ``date`` write a line when the script reaches them (``sh -c "echo hi; sleep 5"``);
- ``while true; do echo hi; date; sleep 5; done`` (or ``while sleep 5; do ...; done``) writes its lines every
  period, forever;
- ``exec CMD`` is CMD; ``sh -c``, ``bash -ec`` and the like run their script; unbalanced quotes fail at once
  with 2, as a shell would.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex

from actors.kubelet import logs

FOREVER = float("inf")

_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_PROGRAMS = frozenset({"sleep", "true", "false", "exit", "echo", "date"})
_SEPARATORS = frozenset({";", "&&", "||", "&", "|"})
_KEYWORDS = frozenset({"do", "done", "for", "if", "then", "else", "fi", "case", "esac", "{", "}"})
_SLEEP_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SLEEP_ARG = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")


@dataclasses.dataclass(frozen=True, slots=True)
class Script:
    """How long a command runs (``FOREVER``: until stopped), its exit code, and what it writes."""

    runs_for: float
    exit_code: int = 0
    handles_sigterm: bool = True
    lines: tuple[logs.LogLine, ...] = ()  # written once, each at its time after the start
    loop: logs.LogLoop | None = None  # written again and again


def of_command(words: list[str]) -> Script:
    """What ``command`` + ``args`` do (see the module docstring)."""
    if not words:
        return Script(FOREVER)
    program = posixpath.basename(words[0])
    if program in _SHELLS and len(words) >= 3 and words[1].startswith("-") and words[1].endswith("c"):
        return _script(words[2])
    if program in _PROGRAMS:
        return _run([("", [program, *words[1:]])])
    return Script(FOREVER)


@dataclasses.dataclass(slots=True)
class _Loop:
    condition: list[str]
    body: list[tuple[str, list[str] | _Loop]]


_Step = tuple[str, "list[str] | _Loop"]  # (the separator before it, a command or a loop)


def _script(text: str) -> Script:
    lexer = shlex.shlex(text.replace("\n", ";"), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: the shell fails at once
        return Script(0.0, 2)
    steps, end = _parse(tokens, 0, stop=())
    if steps is None or end != len(tokens) or not steps:
        return Script(FOREVER)
    return _run(steps)


def _parse(tokens: list[str], i: int, *, stop: tuple[str, ...]) -> tuple[list[_Step] | None, int]:
    """Commands up to one of the ``stop`` words at a command's start; None when the shape is unknown."""
    steps: list[_Step] = []
    separator = ""
    while i < len(tokens):
        token = tokens[i]
        if token in _SEPARATORS:
            if token in ("&", "|"):
                return None, i  # background jobs and pipes: real work
            separator, i = token, i + 1
            continue
        if token in stop:
            return steps, i
        if token == "while":
            loop, i = _parse_loop(tokens, i + 1)
            if loop is None:
                return None, i
            steps.append((separator, loop))
            continue
        if token in _KEYWORDS or token == "until":
            return None, i
        words: list[str] = []
        while i < len(tokens) and tokens[i] not in _SEPARATORS:
            words.append(tokens[i])
            i += 1
        steps.append((separator, words))
    return steps, i


def _parse_loop(tokens: list[str], i: int) -> tuple[_Loop | None, int]:
    condition: list[str] = []
    while i < len(tokens) and tokens[i] not in (";", "do"):
        condition.append(tokens[i])
        i += 1
    while i < len(tokens) and tokens[i] == ";":
        i += 1
    if i >= len(tokens) or tokens[i] != "do":
        return None, i
    body, i = _parse(tokens, i + 1, stop=("done",))
    if body is None or i >= len(tokens):
        return None, i
    return _Loop(condition, body), i + 1


def _run(steps: list[_Step]) -> Script:
    """Play the steps: when the script ends, with what code, and the lines it writes on the way."""
    at, code, handles = 0.0, 0, True
    written: list[logs.LogLine] = []
    for separator, step in steps:
        if (separator == "&&" and code != 0) or (separator == "||" and code == 0):
            continue
        if isinstance(step, _Loop):
            loop, sleeps = _loop(step, at)
            return Script(FOREVER, 0, handles and not sleeps, tuple(written), loop)
        words = step
        if words and posixpath.basename(words[0]) == "exec":
            words = words[1:]
            if words and posixpath.basename(words[0]) not in _PROGRAMS:
                return Script(FOREVER, 0, True, tuple(written))  # the program replaces the shell
        if not words:
            continue
        program, args = posixpath.basename(words[0]), words[1:]
        if program == "sleep":
            seconds = _sleep_seconds(args)
            if seconds is None:
                return Script(at, 1, handles, tuple(written))  # sleep: invalid number
            if seconds == FOREVER:
                return Script(FOREVER, 0, False, tuple(written))
            at, code, handles = at + seconds, 0, False  # a shell waiting in sleep as PID 1 ignores SIGTERM
        elif program in ("echo", "date"):
            written.append(
                logs.LogLine(at, _echo(args)) if program == "echo" else logs.LogLine(at, date=True)
            )
            code = 0
        elif program in ("true", ":", "false"):
            code = int(program == "false")
        elif program == "exit":
            if args and args[0].isdigit():
                code = int(args[0]) % 256
            return Script(at, code, handles, tuple(written))
        else:
            return Script(FOREVER, 0, handles, tuple(written))  # some real work: it runs until stopped
    return Script(at, code, handles, tuple(written))


def _loop(loop: _Loop, start: float) -> tuple[logs.LogLoop | None, bool]:
    """A ``while`` loop, which runs forever: its lines every period (None: none, or a loop kubemu cannot
    play), and whether it sleeps (a shell in ``sleep`` ignores SIGTERM)."""
    steps: list[list[str]] = []
    if loop.condition and posixpath.basename(loop.condition[0]) == "sleep":
        steps.append(loop.condition)
    elif loop.condition not in (["true"], [":"]):
        return None, False
    for separator, step in loop.body:
        if isinstance(step, _Loop) or separator not in ("", ";", "&&"):
            return None, False
        steps.append(step)
    at, written = 0.0, []
    for words in steps:
        program = posixpath.basename(words[0]) if words else ""
        if program == "sleep":
            seconds = _sleep_seconds(words[1:])
            if seconds is None or seconds == FOREVER:
                return None, seconds == FOREVER
            at += seconds
        elif program == "echo":
            written.append(logs.LogLine(at, _echo(words[1:])))
        elif program == "date":
            written.append(logs.LogLine(at, date=True))
        elif program not in ("true", ":"):
            return None, any(w and posixpath.basename(w[0]) == "sleep" for w in steps)  # real work
    if at <= 0 or not written:
        return None, at > 0  # a busy loop is not played: kubemu does not flood the log
    return logs.LogLoop(start, at, tuple(written)), True


def _sleep_seconds(args: list[str]) -> float | None:
    if args == ["infinity"]:
        return FOREVER
    total = 0.0
    for arg in args or ["?"]:
        match = _SLEEP_ARG.match(arg)
        if match is None:
            return None
        total += float(match.group(1)) * _SLEEP_UNITS[match.group(2)]
    return total


def _echo(args: list[str]) -> str:
    while args and args[0] in ("-n", "-e", "-E", "-ne", "-en"):
        args = args[1:]
    return " ".join(args)
