"""Controller expectations as upstream's: set, settled by observations and failed writes, satisfied when
fulfilled, absent or five minutes old; named deletions counted once."""

from __future__ import annotations

import pytest

from actors.controllers import framework
from actors.controllers.expectations import EXPECTATIONS_TIMEOUT, ControllerExpectations
from actors.runtime.clock import ManualClock


def expectations() -> tuple[ManualClock, ControllerExpectations]:
    clock = ManualClock()
    return clock, ControllerExpectations(clock=clock)


def test_a_key_without_expectations_is_satisfied() -> None:
    _, exp = expectations()
    assert exp.pending("ns/rs") == framework.Pending()
    assert exp.satisfied("ns/rs")


@pytest.mark.parametrize(
    ("steps", "pending"),
    [
        ([], framework.Pending(adds=3)),
        (["created"], framework.Pending(adds=2)),
        (["created"] * 3, framework.Pending(adds=0)),
        (["created"] * 4, framework.Pending(adds=-1)),
        (["lowered"], framework.Pending(adds=1)),
        (["created", "raised"], framework.Pending(adds=5)),
    ],
    ids=["set", "one-seen", "all-seen", "one-extra", "two-failed", "raised"],
)
def test_creations_are_settled_one_by_one(steps: list[str], pending: framework.Pending) -> None:
    _, exp = expectations()
    exp.expect_creations("ns/rs", 3)
    for step in steps:
        if step == "created":
            exp.creation_observed("ns/rs")
        elif step == "lowered":
            exp.lower("ns/rs", adds=2)
        else:
            exp.raise_expectations("ns/rs", adds=3)
    assert exp.pending("ns/rs") == pending
    assert exp.satisfied("ns/rs") == (pending.adds <= 0)


def test_setting_expectations_forgets_the_old_ones() -> None:
    _, exp = expectations()
    exp.expect_creations("ns/rs", 3)
    exp.expect_deletions("ns/rs", 2)
    assert exp.pending("ns/rs") == framework.Pending(adds=0, deletes=2)


def test_observations_of_keys_without_a_record_change_nothing() -> None:
    _, exp = expectations()
    exp.creation_observed("ns/other")
    exp.deletion_observed("ns/other", "pods:ns/p")
    exp.lower("ns/other", adds=1)
    exp.raise_expectations("ns/other", adds=1)
    assert "ns/other" not in exp and exp.satisfied("ns/other")


async def test_unfulfilled_expectations_expire_after_five_minutes_of_cluster_time() -> None:
    clock, exp = expectations()
    exp.expect_creations("ns/rs", 2)
    await clock.advance(EXPECTATIONS_TIMEOUT)
    assert not exp.satisfied("ns/rs")
    await clock.advance(0.001)
    assert exp.satisfied("ns/rs")  # an event was lost: the controller acts again
    exp.expect_creations("ns/rs", 1)  # and setting them again restarts the clock
    assert not exp.satisfied("ns/rs")


def test_named_deletions_count_each_object_once() -> None:
    _, exp = expectations()
    exp.expect_deletions("ns/rs", ["pods:ns/a", "pods:ns/b"])
    assert exp.pending("ns/rs") == framework.Pending(deletes=2)
    exp.deletion_observed("ns/rs", "pods:ns/a")  # deletionTimestamp set
    exp.deletion_observed("ns/rs", "pods:ns/a")  # and later gone: not counted again
    exp.deletion_observed("ns/rs", "pods:ns/zzz")  # not one it deleted
    exp.deletion_observed("ns/rs")  # unnamed
    assert exp.pending("ns/rs") == framework.Pending(deletes=1)
    exp.deletion_observed("ns/rs", "pods:ns/b")
    assert exp.satisfied("ns/rs")


def test_counted_deletions_settle_on_any_observation() -> None:
    _, exp = expectations()
    exp.set("ns/rs", adds=1, deletes=2)
    exp.deletion_observed("ns/rs")
    exp.deletion_observed("ns/rs", "pods:ns/anything")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")


def test_delete_forgets_the_key() -> None:
    _, exp = expectations()
    exp.expect_creations("ns/rs", 5)
    exp.delete("ns/rs")
    assert len(exp) == 0 and exp.satisfied("ns/rs")
