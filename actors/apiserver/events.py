"""``EventRecorder``: core/v1 Events about objects, recorded through the apiserver as components do.

As client-go's ``record.EventRecorder`` with its correlator: ``event(obj, type, reason, message)`` creates an
Event in the object's namespace named ``<object name>.<time in hex nanoseconds>``, with ``involvedObject``
pointing at the object, ``source.component`` and ``reportingComponent`` naming the component, and upstream's
reasons (``Scheduled``, ``SuccessfulCreate``, ``ScalingReplicaSet``, ``Killing``, ...) chosen by the caller.
A repeat of the same (object, type, reason, message) is aggregated: the first Event's ``count`` grows and its
``lastTimestamp`` moves, instead of a new Event each time. Recording never raises: an Event that cannot be
written is logged and dropped, as upstream drops them, so a component never fails over its own bookkeeping.

Time comes from the injected clock.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.runtime.clock import Clock
from actors.runtime.ref import ActorRef
from kube import meta

log = logging.getLogger("kubemu.apiserver.events")

NORMAL, WARNING = "Normal", "Warning"
_MAX_REMEMBERED = 4096  # events the aggregation remembers (client-go's cache holds 4096)


class EventRecorder:
    def __init__(self, *, apiserver: ActorRef, component: str, clock: Clock, host: str = "") -> None:
        self.apiserver = apiserver
        self.component = component
        self.host = host
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}  # -> (namespace, name, count)
        self.recorded = 0
        self.dropped = 0

    async def event(
        self, obj: dict[str, Any], type: str, reason: str, message: str, *, field_path: str = ""
    ) -> None:
        md = obj.get("metadata") or {}
        namespace = md.get("namespace") or "default"
        key = (md.get("uid") or f"{namespace}/{md.get('name')}", type, reason, f"{field_path}|{message}")
        now = meta.now_rfc3339(self.clock.now())
        seen = self._seen.get(key)
        try:
            if seen is not None:
                event_namespace, name, count = seen
                patch = {"count": count + 1, "lastTimestamp": now}
                await self.apiserver.call(
                    "patch", "events", event_namespace, name, "application/merge-patch+json", patch
                )
                self._seen[key] = (event_namespace, name, count + 1)
            else:
                name = f"{md.get('name', 'unknown')}.{int(self.clock.now() * 1e9):x}"
                event = {
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": {
                        **_reference(obj),
                        **({"fieldPath": field_path} if field_path else {}),
                    },
                    "reason": reason,
                    "message": message,
                    "type": type,
                    "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "reportingComponent": self.component,
                    "reportingInstance": self.host or self.component,
                }
                await self.apiserver.call("create", "events", namespace, event, handed_over=True)
                if len(self._seen) >= _MAX_REMEMBERED:
                    self._seen.pop(next(iter(self._seen)))
                self._seen[key] = (namespace, name, 1)
            self.recorded += 1
        except Exception as error:  # an Event is best effort, as upstream's
            self.dropped += 1
            log.info("%s: event %s on %s not recorded: %s", self.component, reason, md.get("name"), error)


def _reference(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata") or {}
    reference = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "resourceVersion": md.get("resourceVersion", ""),
    }
    if md.get("namespace"):
        reference["namespace"] = md["namespace"]
    return {k: v for k, v in reference.items() if v}
