"""The controller contract's shared parts: the Events a write's outcome calls for (upstream's pod controls)
and the pod predicates every workload controller reads."""

from __future__ import annotations

from typing import Any

import pytest

from actors.controllers import framework
from actors.controllers.framework import Create, Delete, EventTemplate
from kube import meta

Obj = dict[str, Any]

OWNER: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "ns"}}


# -- outcome events -----------------------------------------------------------------------------------------


def test_pod_control_fills_in_the_generated_name_or_the_error() -> None:
    create = framework.create_pod(OWNER, {"metadata": {"generateName": "web-"}})
    assert create.namespace == "ns" and create.expect and create.owner is OWNER
    made = framework.success_event(create, "web-x7k2p")
    assert made is not None and (made.obj, made.type, made.reason, made.message) == (
        OWNER,
        "Normal",
        "SuccessfulCreate",
        "Created pod: web-x7k2p",
    )
    failed = framework.failure_event(create, "no room", reason="Forbidden")
    assert failed is not None and (failed.type, failed.reason, failed.message) == (
        "Warning",
        "FailedCreate",
        "Error creating: no room",
    )
    delete = framework.delete_pod(OWNER, {"metadata": {"name": "web-1", "namespace": "ns", "uid": "u1"}})
    assert (delete.name, delete.uid, delete.expect) == ("web-1", "u1", True)
    gone = framework.success_event(delete, delete.name)
    assert gone is not None and (gone.reason, gone.message) == ("SuccessfulDelete", "Deleted pod: web-1")
    refused = framework.failure_event(delete, "timed out")
    assert refused is not None and (refused.reason, refused.message) == (
        "FailedDelete",
        "Error deleting: timed out",
    )


@pytest.mark.parametrize(
    ("body", "reason", "recorded"),
    [
        ({"metadata": {"name": "web-0"}}, "AlreadyExists", False),
        ({"metadata": {"name": "web-0"}}, "Forbidden", True),
        ({"metadata": {"generateName": "web-"}}, "AlreadyExists", True),
    ],
    ids=["fixed-name-taken", "fixed-name-refused", "generated-name-collided"],
)
def test_a_fixed_name_found_taken_is_not_a_failure_to_announce(
    body: Obj, reason: str, recorded: bool
) -> None:
    template = EventTemplate(type="Warning", reason="FailedCreate", message="create {name}: {error}")
    create = Create(resource="pods", namespace="ns", body=body, owner=OWNER, on_failure=template)
    event = framework.failure_event(create, "boom", reason=reason)
    assert (event is not None) == recorded
    if event is not None:
        assert event.message == f"create {body['metadata'].get('name', '')}: boom"


def test_an_action_with_outcome_events_must_say_whom_they_are_about() -> None:
    with pytest.raises(ValueError, match="owner"):
        Delete(resource="pods", namespace="ns", name="p", on_success=framework.POD_DELETED)
    plain = Delete(resource="pods", namespace="ns", name="p")
    assert framework.success_event(plain, "p") is None and framework.failure_event(plain, "x") is None


# -- pods ---------------------------------------------------------------------------------------------------


def ready_pod(since: str | None, status: str = "True", phase: str = "Running") -> Obj:
    condition: Obj = {"type": "Ready", "status": status}
    if since:
        condition["lastTransitionTime"] = since
    return {"metadata": {}, "status": {"phase": phase, "conditions": [condition]}}


def test_pod_readiness_and_availability() -> None:
    since = meta.parse_rfc3339("2024-01-01T00:00:00Z")
    p = ready_pod("2024-01-01T00:00:00Z")
    assert framework.is_pod_ready(p) and framework.is_pod_available(p, 0, since)
    assert not framework.is_pod_available(p, 10, since + 10)  # strictly more than minReadySeconds
    assert framework.is_pod_available(p, 10, since + 10.5)
    assert framework.available_at(p, 10) == since + 10 and framework.available_in(p, 10, since + 4) == 6
    assert framework.available_in(p, 0, since) == 0
    no_time = ready_pod(None)
    assert framework.is_pod_available(no_time, 0, since) and not framework.is_pod_available(
        no_time, 10, since
    )
    assert framework.available_in(no_time, 10, since) is None  # nothing to count from
    assert framework.available_in(ready_pod(None, "False"), 10, since) is None
    assert not framework.is_pod_ready(ready_pod(None, "False")) and not framework.is_pod_ready({})
    assert not framework.is_pod_available(ready_pod("not a time"), 10, since + 100)


@pytest.mark.parametrize(
    ("pod", "active"),
    [
        (ready_pod(None, phase="Running"), True),
        (ready_pod(None, phase="Pending"), True),
        (ready_pod(None, phase="Succeeded"), False),
        (ready_pod(None, phase="Failed"), False),
        ({**ready_pod(None), "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}, False),
    ],
    ids=["running", "pending", "succeeded", "failed", "terminating"],
)
def test_a_pod_is_active_until_it_finishes_or_terminates(pod: Obj, active: bool) -> None:
    assert framework.is_pod_active(pod) == active
