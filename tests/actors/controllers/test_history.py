"""ControllerRevision history: hashing, the revisions a StatefulSet or DaemonSet sync works with, trimming,
and int-or-percent arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from actors.controllers import framework, history
from actors.controllers.framework import Create, Delete, DictCache, Patch
from kube import errors, meta

Obj = dict[str, Any]


def owner(kind: str = "StatefulSet", image: str = "nginx:1", **status: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default", "uid": "owner-uid", "annotations": {"note": "x"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
        "status": status,
    }


def created(plan: history.RevisionPlan) -> list[Obj]:
    return [a.body for a in plan.actions if isinstance(a, Create)]


# -- hashing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "data", "expected"),
    [
        (history.fnv32, b"", 0x811C9DC5),
        (history.fnv32, b"a", 0x050C5D7E),
        (history.fnv32a, b"", 0x811C9DC5),
        (history.fnv32a, b"a", 0xE40C292C),
        (history.fnv32a, b"foobar", 0xBF9CF968),
    ],
    ids=["fnv1-empty", "fnv1-a", "fnv1a-empty", "fnv1a-a", "fnv1a-foobar"],
)
def test_fnv_matches_the_reference_vectors(fn: Any, data: bytes, expected: int) -> None:
    assert fn(data) == expected


def test_safe_encode_uses_only_the_wordless_alphabet() -> None:
    encoded = history.safe_encode("1234567890")
    assert len(encoded) == 10
    assert set(encoded) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert history.safe_encode("42") == history.safe_encode("42")


def test_hashes_are_deterministic_key_order_free_and_change_with_the_collision_count() -> None:
    a = {"spec": {"x": 1, "y": [1, 2]}}
    b = {"spec": {"y": [1, 2], "x": 1}}
    assert history.hash_revision(a, 0) == history.hash_revision(b, 0)
    assert history.hash_revision(a, 0) != history.hash_revision(a, 1)
    assert history.hash_revision(a, None) != history.hash_revision(a, 0)
    assert history.compute_hash(a, None) == history.compute_hash(b, None)
    assert history.compute_hash(a, 0) != history.compute_hash(a, 1)
    padded = {"spec": {"x": 1, "y": [1, 2], "resources": {}, "args": [], "note": None}}
    assert history.compute_hash(padded, 0) == history.compute_hash(a, 0)  # empty values as Go omits them


def test_a_template_patch_restores_the_template() -> None:
    o = owner()
    data = history.template_patch(o)
    assert data["spec"]["template"]["$patch"] == "replace"
    assert history.template_of({"data": data}) == o["spec"]["template"]
    assert "$patch" not in o["spec"]["template"]  # the owner is not changed


# -- the StatefulSet's revisions ----------------------------------------------------------------------------


def test_a_first_revision_is_created() -> None:
    o = owner()
    plan = history.plan_stateful(o, [], DictCache())
    [revision] = created(plan)
    hash_value = history.hash_revision(history.template_patch(o), 0)
    assert revision["metadata"]["name"] == f"web-{hash_value}"
    assert revision["metadata"]["labels"] == {"app": "web", history.REVISION_HASH_LABEL: hash_value}
    assert revision["metadata"]["annotations"] == {"note": "x"}
    assert revision["metadata"]["ownerReferences"] == [framework.owner_reference(o)]
    assert revision["revision"] == 1 and revision["data"] == history.template_patch(o)
    assert plan.current is plan.update and plan.collision_count == 0 and plan.old == []


def test_an_unchanged_template_writes_nothing_a_changed_one_makes_the_next_revision() -> None:
    first = created(history.plan_stateful(owner(), [], DictCache()))[0]
    cache = DictCache({"controllerrevisions": [first]})
    o = owner(currentRevision=first["metadata"]["name"])
    same = history.plan_stateful(o, [first], cache)
    assert same.actions == [] and same.update is first and same.current is first
    changed = history.plan_stateful(
        owner("StatefulSet", "nginx:2", currentRevision=first["metadata"]["name"]), [first], cache
    )
    [second] = created(changed)
    assert second["revision"] == 2
    assert changed.current is first and changed.update is second and changed.old == [first]


def test_rolling_back_renumbers_the_old_revision() -> None:
    r1 = created(history.plan_stateful(owner(image="v1"), [], DictCache()))[0]
    r2 = created(history.plan_stateful(owner(image="v2"), [r1], DictCache({"controllerrevisions": [r1]})))[0]
    plan = history.plan_stateful(owner(image="v1"), [r1, r2], DictCache({"controllerrevisions": [r1, r2]}))
    assert plan.actions == [
        Patch(
            resource="controllerrevisions",
            namespace="default",
            name=r1["metadata"]["name"],
            patch={"revision": 3},
        )
    ]
    assert plan.update["metadata"]["name"] == r1["metadata"]["name"] and plan.update["revision"] == 3
    assert r1["revision"] == 1  # the cached one is untouched


def test_a_name_taken_by_other_data_is_a_collision() -> None:
    o = owner()
    name = f"web-{history.hash_revision(history.template_patch(o), 0)}"
    squatter = {
        "metadata": {"name": name, "namespace": "default", "uid": "s"},
        "data": {"other": 1},
        "revision": 9,
    }
    plan = history.plan_stateful(o, [], DictCache({"controllerrevisions": [squatter]}))
    [revision] = created(plan)
    assert plan.collision_count == 1
    assert revision["metadata"]["name"] == f"web-{history.hash_revision(history.template_patch(o), 1)}"


# -- the DaemonSet's revisions ------------------------------------------------------------------------------


def test_daemon_revision_is_named_by_the_template_hash() -> None:
    o = owner("DaemonSet")
    plan = history.plan_daemon(o, [], [], DictCache())
    [revision] = created(plan)
    hash_value = history.compute_hash(o["spec"]["template"], 0)
    assert revision["metadata"]["name"] == f"web-{hash_value}"
    assert revision["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL] == hash_value
    assert revision["revision"] == 1


def test_daemon_current_revision_is_renumbered_past_the_old_ones() -> None:
    v1 = created(history.plan_daemon(owner("DaemonSet", "v1"), [], [], DictCache()))[0]
    v2 = created(history.plan_daemon(owner("DaemonSet", "v2"), [v1], [], DictCache()))[0]
    assert v2["revision"] == 2
    back = history.plan_daemon(owner("DaemonSet", "v1"), [v1, v2], [], DictCache())
    assert back.actions == [
        Patch(
            resource="controllerrevisions",
            namespace="default",
            name=v1["metadata"]["name"],
            patch={"revision": 3},
        )
    ]
    assert back.old == [v2]


def test_daemon_duplicate_revisions_are_merged_and_their_pods_relabelled() -> None:
    o = owner("DaemonSet")
    keep = created(history.plan_daemon(o, [], [], DictCache()))[0]
    keep["revision"] = 5
    dup = meta.deep_copy(keep)
    dup["metadata"].update(name="web-dup", uid="dup")
    dup["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL] = "dup"
    dup["revision"] = 2
    pod = {
        "metadata": {
            "name": "p",
            "namespace": "default",
            "labels": {history.CONTROLLER_REVISION_HASH_LABEL: "dup"},
        }
    }
    plan = history.plan_daemon(o, [dup, keep], [pod], DictCache())
    assert plan.update is keep
    keep_hash = keep["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL]
    assert plan.actions == [
        Patch(
            resource="pods",
            namespace="default",
            name="p",
            patch={"metadata": {"labels": {history.CONTROLLER_REVISION_HASH_LABEL: keep_hash}}},
        ),
        Delete(resource="controllerrevisions", namespace="default", name="web-dup", uid="dup"),
    ]


def test_daemon_revision_without_hash_label_gets_its_name() -> None:
    o = owner("DaemonSet")
    legacy = {
        "metadata": {"name": "web-old", "namespace": "default", "labels": {}},
        "data": {},
        "revision": 1,
    }
    plan = history.plan_daemon(o, [legacy], [], DictCache())
    assert plan.actions[0] == Patch(
        resource="controllerrevisions",
        namespace="default",
        name="web-old",
        patch={"metadata": {"labels": {history.CONTROLLER_REVISION_HASH_LABEL: "web-old"}}},
    )
    assert plan.old[0]["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL] == "web-old"
    assert legacy["metadata"]["labels"] == {}


# -- trimming, sorting --------------------------------------------------------------------------------------


def rev(name: str, number: int, created_at: str = "2024-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": name, "creationTimestamp": created_at}, "revision": number}


@pytest.mark.parametrize(
    ("limit", "live", "expected"),
    [
        (10, set(), []),
        (2, set(), ["r1", "r2"]),
        (2, {"r1"}, ["r2"]),  # non-live r2..r4, keep 2
        (0, {"r4"}, ["r1", "r2", "r3"]),
        (-1, set(), []),
    ],
    ids=["under-limit", "oldest-first", "live-kept", "zero", "negative-keeps-all"],
)
def test_stale_revisions(limit: int, live: set[str], expected: list[str]) -> None:
    revisions = [rev(f"r{i}", i) for i in range(1, 5)]
    assert [r["metadata"]["name"] for r in history.stale_revisions(revisions, live, limit)] == expected


def test_revisions_sort_by_number_then_age_then_name() -> None:
    revisions = [
        rev("b", 2),
        rev("a", 2),
        rev("z", 1, "2024-01-02T00:00:00Z"),
        rev("y", 2, "2023-01-01T00:00:00Z"),
    ]
    assert [r["metadata"]["name"] for r in history.sorted_revisions(revisions)] == ["z", "y", "a", "b"]
    assert history.next_revision(history.sorted_revisions(revisions)) == 3
    assert history.next_revision([]) == 1


def test_history_limit_defaults_to_ten() -> None:
    assert history.history_limit(owner()) == 10
    assert history.history_limit({"spec": {"revisionHistoryLimit": 0}}) == 0


# -- arithmetic ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        (None, 10, True, 7),
        ("x%", 4, True, 7),
        ("2", 4, True, 2),
    ],
    ids=["int", "percent-up", "percent-down", "absent", "bad", "digit-string"],
)
def test_scaled_value(value: int | str | None, total: int, round_up: bool, expected: int) -> None:
    assert history.scaled_value(value, total, round_up=round_up, default=7) == expected


@pytest.mark.parametrize("value", [None, "x%", "1.5", True], ids=["absent", "bad-percent", "float", "bool"])
def test_scaled_value_without_a_default_refuses_what_is_not_an_int_or_percent(value: object) -> None:
    with pytest.raises(errors.KubeError, match="invalid value for IntOrString"):
        history.scaled_value(value, 10, round_up=True)
