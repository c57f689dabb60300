"""The Job controller's pod failure back-off (upstream's ``pkg/controller/job/backoff_utils.go``).

After a failure a Job waits before creating a pod: 10 s doubled for every failure since the last success,
capped at 10 minutes (``MaxJobPodFailureBackOff``; the docs' "six minutes" is older). A pod's failure time is
upstream's ``getFinishedTime``. The record of each Job lives on the controller, in memory, as upstream's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kube import meta

Obj = dict[str, Any]

DEFAULT_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
MAX_BACKOFF = 600.0  # MaxJobPodFailureBackOff


def finish_time(pod: Obj) -> float:
    """When the pod finished: its last container's ``finishedAt``, else the Ready=False transition, else
    deletion time minus grace, else creation (upstream's ``getFinishedTime``)."""
    status = pod.get("status") or {}
    latest: float | None = None
    for cs in status.get("containerStatuses") or []:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            latest = None
            break
        latest = max(latest or 0.0, meta.parse_rfc3339(finished))
    if latest is not None:
        return latest
    for ready in status.get("conditions") or []:
        if (
            ready.get("type") == "Ready"
            and ready.get("status") == "False"
            and ready.get("lastTransitionTime")
        ):
            return meta.parse_rfc3339(ready["lastTransitionTime"])
    md = pod.get("metadata") or {}
    if md.get("deletionTimestamp"):
        return meta.parse_rfc3339(md["deletionTimestamp"]) - float(md.get("deletionGracePeriodSeconds") or 0)
    return meta.parse_rfc3339(md["creationTimestamp"]) if md.get("creationTimestamp") else 0.0


@dataclasses.dataclass(slots=True)
class BackoffRecord:
    """Failures since the last success and when the latest happened (upstream's ``backoffRecord``);
    ``seen`` holds the finished pods already folded in, so a repeated reconcile adds nothing."""

    uid: str = ""  # the Job's
    failures: int = 0
    last_failure: float | None = None
    seen: set[str] = dataclasses.field(default_factory=set)

    def observe(self, succeeded: list[Obj], failed: list[Obj]) -> None:
        succeeded = [p for p in succeeded if _uid(p) not in self.seen]
        failed = sorted((p for p in failed if _uid(p) not in self.seen), key=finish_time)
        self.seen.update(_uid(p) for p in [*succeeded, *failed])
        if succeeded:
            last_success = max(finish_time(p) for p in succeeded)
            self.failures, self.last_failure = 0, None
            for pod in reversed(failed):
                if finish_time(pod) <= last_success:
                    break
                self.last_failure = self.last_failure or finish_time(pod)
                self.failures += 1
        elif failed:
            self.failures += len(failed)
            self.last_failure = finish_time(failed[-1])

    def remaining(self, now: float) -> float:
        """Seconds before a new pod may be created."""
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = min(DEFAULT_BACKOFF * 2.0 ** (self.failures - 1), MAX_BACKOFF)
        return max(0.0, delay - (now - self.last_failure))


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
