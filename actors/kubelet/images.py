"""A node's images: which are on it, pulls one at a time, and images that cannot be pulled.

Pure and deterministic, like the engine that uses it: ``ImageCache.ensure`` says what upstream's image
manager (``EnsureImageExists``) would do for a container at a given time and records the pull; nothing is
downloaded. What it promises:

- references are checked and normalised as upstream's ``ParseNormalizedNamed`` does (``nginx`` is
  ``docker.io/library/nginx:latest``); a malformed one is ``InvalidImageName`` with upstream's message;
- pulls are serial (upstream's ``serializeImagePulls``): a pull waits for the ones before it on the node;
- an image on the node is not pulled again unless the policy is ``Always``; ``Never`` uses only what is on
  the node (``ErrImageNeverPull``);
- an image is bad when the container declares it (``imagePull: fail``) or it matches one of ``bad_images``
  (``fnmatch`` patterns, tried on the reference as written and normalised): its pull fails after taking
  its time, with containerd's "not found" message;
- references repeat across a node's pods: ``normalize`` and ``image_id`` are memoised;
- a pull takes ``pull_seconds``, or the first ``pull_seconds_for`` pattern's value, or what the container
  declares (``imagePull: 30s``).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import functools
import hashlib
import re
from collections.abc import Mapping

_DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


class Outcome(enum.Enum):
    PRESENT = "present"  # on the node: used as it is
    PULLED = "pulled"  # pulled, usable at ``done``
    FAILED = "failed"  # the pull fails at ``done``
    NEVER = "never"  # not on the node, and the policy is Never
    INVALID = "invalid"  # the reference does not parse


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pull:
    """What ensuring an image gave: ``done`` is when the image is usable (or the pull failed); ``seconds``
    the pull itself, without the wait for earlier pulls; ``message`` the error, upstream's words."""

    outcome: Outcome
    asked: float
    done: float
    seconds: float = 0.0
    message: str = ""
    size: int = 0


@functools.lru_cache(maxsize=4096)
def normalize(image: str) -> str:
    """The fully qualified reference (``docker.io/library/nginx:latest``); ``ValueError`` with upstream's
    message (``couldn't parse image name ...``) when it does not parse."""
    problem = _problem(image)
    if problem:
        raise ValueError(f"couldn't parse image name {_quote(image)}: {problem}")
    domain, remainder = _split_domain(image)
    match = _REFERENCE.match(f"{domain}/{remainder}")
    assert match is not None
    if not match.group("tag") and not match.group("digest"):
        remainder += ":latest"
    return f"{domain}/{remainder}"


@functools.lru_cache(maxsize=4096)
def image_id(image: str) -> str:
    """A repo digest for the image, stable for a reference (``docker.io/library/nginx@sha256:...``)."""
    full = _safe_normalize(image)
    repository = full.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(full.encode()).hexdigest()}"


def _problem(image: str) -> str:
    if _HEX64.match(image):
        return f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings"
    domain, remainder = _split_domain(image)
    remote = remainder.split(":", 1)[0] if ":" in remainder else remainder
    if remote.lower() != remote:
        return f"invalid reference format: repository name ({remote}) must be lowercase"
    full = f"{domain}/{remainder}"
    match = _REFERENCE.match(full)
    if not image:
        return "invalid reference format: repository name must have at least one component"
    if match is None:
        return "invalid reference format"
    if len(match.group("name")) > 255:
        return "invalid reference format: repository name must not be more than 255 characters"
    return ""


def _split_domain(image: str) -> tuple[str, str]:
    head, slash, rest = image.partition("/")
    if not slash or ("." not in head and ":" not in head and head != "localhost" and head.lower() == head):
        domain, remainder = _DEFAULT_DOMAIN, image
    else:
        domain, remainder = head, rest
    if domain == "index.docker.io":
        domain = _DEFAULT_DOMAIN
    if domain == _DEFAULT_DOMAIN and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def _safe_normalize(image: str) -> str:
    try:
        return normalize(image)
    except ValueError:
        return image


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImageCache:
    """The images a node has pulled, and when each pull finishes (pulls are serial, as upstream's)."""

    def __init__(
        self,
        pull_seconds: float = 0.5,
        *,
        bad_images: tuple[str, ...] = (),
        pull_seconds_for: Mapping[str, float] | None = None,
    ) -> None:
        self.pull_seconds = pull_seconds
        self.bad_images = tuple(bad_images)
        self.pull_seconds_for = dict(pull_seconds_for or {})
        self.ready: dict[str, float] = {}  # normalised image -> when it is (or will be) on the node
        self.busy_until = 0.0  # the puller is busy until then
        self.pulls = 0  # pulls started, failed ones included

    def present(self, image: str, now: float) -> bool:
        at = self.ready.get(_safe_normalize(image))
        return at is not None and at <= now

    def is_bad(self, image: str) -> bool:
        full = _safe_normalize(image)
        return any(fnmatch.fnmatchcase(image, p) or fnmatch.fnmatchcase(full, p) for p in self.bad_images)

    def ensure(
        self, image: str, *, now: float, policy: str, seconds: float | None = None, fail: bool = False
    ) -> Pull:
        """What the image manager does for a container starting at ``now`` (see the module docstring)."""
        try:
            full = normalize(image)
        except ValueError as error:
            message = f"Failed to apply default image tag {_quote(image)}: {error}"
            return Pull(outcome=Outcome.INVALID, asked=now, done=now, message=message)
        cached = self.ready.get(full)
        if policy == "Never":
            if cached is not None and cached <= now:
                return Pull(outcome=Outcome.PRESENT, asked=now, done=now)
            message = f"Container image {_quote(image)} is not present with pull policy of Never"
            return Pull(outcome=Outcome.NEVER, asked=now, done=now, message=message)
        if cached is not None and cached <= now and policy != "Always":
            return Pull(outcome=Outcome.PRESENT, asked=now, done=now)
        took = self._seconds(image, full) if seconds is None else seconds
        bad = fail or self.is_bad(image)
        if cached is not None and not bad and policy != "Always":
            return Pull(outcome=Outcome.PULLED, asked=now, done=cached, seconds=0.0, size=_size(full))
        done = max(now, self.busy_until) + took
        self.busy_until = done
        self.pulls += 1
        if bad:
            message = (
                f"rpc error: code = NotFound desc = failed to pull and unpack image {_quote(full)}: "
                f"failed to resolve reference {_quote(full)}: {full}: not found"
            )
            return Pull(outcome=Outcome.FAILED, asked=now, done=done, seconds=took, message=message)
        self.ready[full] = done if cached is None else min(cached, done)
        return Pull(outcome=Outcome.PULLED, asked=now, done=done, seconds=took, size=_size(full))

    def pull(self, image: str, now: float, policy: str) -> float | None:
        """When ``image`` is usable for a container starting at ``now``; None when it cannot be (policy
        ``Never`` and not on the node, a bad or malformed image)."""
        result = self.ensure(image, now=now, policy=policy)
        return result.done if result.outcome in (Outcome.PRESENT, Outcome.PULLED) else None

    def _seconds(self, image: str, full: str) -> float:
        for pattern, seconds in self.pull_seconds_for.items():
            if fnmatch.fnmatchcase(image, pattern) or fnmatch.fnmatchcase(full, pattern):
                return seconds
        return self.pull_seconds


def _size(full: str) -> int:
    """A plausible, stable image size in bytes (2 MB to 200 MB), for the Pulled event."""
    return 2_000_000 + int(hashlib.sha256(full.encode()).hexdigest()[:12], 16) % 198_000_000
