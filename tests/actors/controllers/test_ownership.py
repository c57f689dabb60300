"""ControllerRefManager: what a controller keeps, adopts, releases and ignores, and the patches saying so."""

from __future__ import annotations

from typing import Any

import pytest

from actors.controllers import framework, ownership
from actors.controllers.framework import DictCache, Patch
from actors.controllers.informer import Informer, InformerCache
from kube import labels, strategic_merge_patch

Obj = dict[str, Any]


def owner(**md: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "owner-uid", **md},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }


def pod(name: str, app: str, controller: str | None = None, namespace: str = "default", **md: Any) -> Obj:
    refs = [{"kind": "StatefulSet", "name": "x", "uid": controller, "controller": True}] if controller else []
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"u-{name}",
            "labels": {"app": app},
            "ownerReferences": refs,
            **md,
        }
    }


def selector_of(o: Obj) -> labels.Selector:
    return labels.from_label_selector(o["spec"]["selector"])


def test_claim_keeps_adopts_releases_and_ignores() -> None:
    o = owner()
    ref = framework.owner_reference(o)
    objects = [
        pod("mine", "web", "owner-uid"),
        pod("orphan", "web"),
        pod("strayed", "db", "owner-uid"),
        pod("theirs", "web", "other"),
        pod("leaving", "web", deletionTimestamp="2024-01-01T00:00:00Z"),
        pod("elsewhere", "web", namespace="other"),
    ]
    claimed = ownership.claim(o, ref, selector_of(o), "pods", objects)
    assert [p["metadata"]["name"] for p in claimed.objects] == ["mine", "orphan"]
    adopt, release = claimed.actions
    assert isinstance(adopt, Patch) and adopt.name == "orphan" and adopt.patch_type == ownership.STRATEGIC
    assert adopt.patch == {"metadata": {"ownerReferences": [ref], "uid": "u-orphan"}}
    assert isinstance(release, Patch) and release.name == "strayed"
    assert release.patch == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "owner-uid"}], "uid": "u-strayed"}
    }


def test_the_patches_add_and_remove_only_the_owners_reference() -> None:
    o = owner()
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid"}
    orphan = pod("orphan", "web")
    orphan["metadata"]["ownerReferences"] = [other]
    strayed = pod("strayed", "db", "owner-uid")
    strayed["metadata"]["ownerReferences"].append(other)
    adopt, release = ownership.claim(
        o, framework.owner_reference(o), selector_of(o), "pods", [orphan, strayed]
    ).actions
    assert isinstance(adopt, Patch) and isinstance(release, Patch)
    adopted = strategic_merge_patch.strategic_merge_patch(orphan, adopt.patch, "Pod")
    refs = adopted["metadata"]["ownerReferences"]
    assert sorted(r["uid"] for r in refs) == ["cm-uid", "owner-uid"] and framework.owner_reference(o) in refs
    released = strategic_merge_patch.strategic_merge_patch(strayed, release.patch, "Pod")
    assert released["metadata"]["ownerReferences"] == [other]


def test_a_member_test_narrows_what_is_kept_and_adopted() -> None:
    o = owner()
    objects = [pod("web-0", "web", "owner-uid"), pod("web-x", "web", "owner-uid"), pod("web-1", "web")]
    claimed = ownership.claim(
        o,
        framework.owner_reference(o),
        selector_of(o),
        "pods",
        objects,
        member=lambda p: p["metadata"]["name"][-1].isdigit(),
    )
    assert [p["metadata"]["name"] for p in claimed.objects] == ["web-0", "web-1"]
    assert [a.name for a in claimed.actions if isinstance(a, Patch)] == ["web-x", "web-1"]  # release, adopt


def test_claim_adopts_and_releases_nothing_for_an_owner_being_deleted_or_an_empty_selector() -> None:
    gone = owner(deletionTimestamp="2024-01-01T00:00:00Z")
    objects = [pod("orphan", "web"), pod("strayed", "db", "owner-uid")]
    claimed = ownership.claim(gone, framework.owner_reference(gone), selector_of(gone), "pods", objects)
    assert claimed.objects == [] and claimed.actions == []
    o = owner()
    claimed = ownership.claim(o, framework.owner_reference(o), labels.everything(), "pods", objects[:1])
    assert claimed.objects == [] and claimed.actions == []


def test_candidates_are_the_controlled_and_the_orphans_that_may_match() -> None:
    o = owner()
    cache = DictCache(
        {
            "pods": [
                pod("mine", "db", "owner-uid"),
                pod("match", "web"),
                pod("other", "db"),
                pod("theirs", "web", "other-uid"),
                pod("elsewhere", "web", namespace="other"),
            ]
        }
    )
    names = [p["metadata"]["name"] for p in ownership.candidates(cache, "pods", o, selector_of(o))]
    assert names == ["match", "mine"]  # "other" is left out by the label index, not by claim


def _claims(o: Obj, read: list[str]) -> ownership.Claims[str]:
    def extra(obj: Obj) -> str:
        read.append(obj["metadata"]["name"])
        return str(obj["metadata"]["labels"]["app"])

    return ownership.Claims(
        "pods",
        ownership.terms(o, selector_of(o)),
        extra,
        fits=lambda v: v.extra == "web",
        eligible=lambda v: not v.terminating,
        tally=lambda v: (1,),
    )


@pytest.mark.parametrize("logged", [False, True], ids=["dict-cache", "informer-cache"])
def test_claims_kept_in_step_read_only_new_versions_and_claim_as_claim_does(logged: bool) -> None:
    o, rv = owner(), iter(range(1, 1000))
    pods = [pod("mine", "web", "owner-uid"), pod("match", "web"), pod("gone", "web", "owner-uid")]
    pods += [pod("theirs", "web", "other-uid"), pod("elsewhere", "web", namespace="other"), pod("db", "db")]
    for p in pods:
        p["metadata"]["resourceVersion"] = str(next(rv))
    plain = DictCache({"pods": pods})
    pod_informer = Informer("pods")
    pod_informer.replace(pods, "0")
    cache = InformerCache({"pods": pod_informer}) if logged else plain
    read: list[str] = []
    claims = _claims(o, read)

    def check() -> None:
        claims.sync(cache, o, selector_of(o))
        expected = ownership.claim(
            o,
            framework.owner_reference(o),
            selector_of(o),
            "pods",
            [
                p
                for p in ownership.candidates(plain, "pods", o, selector_of(o))
                if not framework.is_terminating(p)
            ],
        )
        assert claims.objects() == expected.objects
        assert claims.actions(framework.owner_reference(o)) == expected.actions
        assert claims.totals == [len(expected.objects)]

    check()
    others = {"theirs", "elsewhere"}  # in the label index, but no candidates: only a full look reads them
    assert set(read) - others == {"gone", "match", "mine"}
    read.clear()

    def put(obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(rv))
        plain.put("pods", obj)
        pod_informer.apply([("MODIFIED", obj)])

    relabelled = pod("mine", "db", "owner-uid")  # no longer matches: released
    put(relabelled)
    plain.remove("pods", pods[2])
    pod_informer.apply([("DELETED", pods[2])])
    put(pod("late", "web"))  # a new orphan: adopted
    going = pod("match", "web", deletionTimestamp="2023-11-14T22:13:20Z")  # terminating: left alone
    put(going)
    check()
    assert set(read) - (set() if logged else others) == {"late", "match", "mine"}  # new versions, once
    assert len(read) == len(set(read))
    assert [p["metadata"]["name"] for p in claims.objects()] == ["late"]
    assert [a.name for a in claims.actions(framework.owner_reference(o)) if isinstance(a, Patch)] == [
        "late",
        "mine",
    ]
