"""The event recorder: what ``kubectl describe`` and ``get events`` show of what a component did."""

from __future__ import annotations

from actors.apiserver.events import NORMAL, WARNING, EventRecorder
from actors.runtime.clock import WallClock
from tests.actors.apiserver.conftest import Cluster


async def test_repeats_are_aggregated_and_new_messages_get_their_own_event(cluster: Cluster) -> None:
    api = cluster.apiserver
    pod = await api.call(
        "create",
        "pods",
        "default",
        {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    )
    recorder = EventRecorder(apiserver=api, component="default-scheduler", clock=WallClock())
    await recorder.event(pod, NORMAL, "Scheduled", "Successfully assigned default/web to node-1")
    await recorder.event(pod, WARNING, "FailedScheduling", "0/3 nodes are available")
    await recorder.event(pod, WARNING, "FailedScheduling", "0/3 nodes are available")
    listed = await api.call("list_objects", "events", "default")
    events = {e["reason"]: e for e in listed["items"]}
    assert set(events) == {"Scheduled", "FailedScheduling"}
    assert events["FailedScheduling"]["count"] == 2
    assert events["Scheduled"]["count"] == 1
    scheduled = events["Scheduled"]
    assert scheduled["involvedObject"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": "web",
        "namespace": "default",
        "uid": pod["metadata"]["uid"],
        "resourceVersion": pod["metadata"]["resourceVersion"],
    }
    assert scheduled["source"] == {"component": "default-scheduler"}
    assert scheduled["metadata"]["name"].startswith("web.")
    assert (recorder.recorded, recorder.dropped) == (3, 0)


async def test_an_event_that_cannot_be_written_is_dropped_not_raised(cluster: Cluster) -> None:
    recorder = EventRecorder(apiserver=cluster.apiserver, component="test", clock=WallClock())
    ghost = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "ghost", "namespace": "no-such-namespace"},
    }
    await recorder.event(ghost, NORMAL, "Created", "never stored")
    assert (recorder.recorded, recorder.dropped) == (0, 1)
