"""The controllers kube-controller-manager runs, by their ``--controllers`` names.

Names are upstream's (``kube-controller-manager --controllers``): ``replicaset``, ``deployment``,
``garbagecollector``, ``horizontalpodautoscaling`` ... ``"*"`` in a list means all of them. The modules are
imported when the table is first asked for, so a host that builds a controller-manager from its spawn
arguments (another Ray process) gets the same table as the driver.

The node lifecycle controller is its own actor (``node_lifecycle.py``): it polls instead of keeping
informers, and the scheduler-side taint manager lives with it.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.controllers import framework

Factory = Callable[[], framework.Controller]


def factories() -> dict[str, Factory]:
    from actors.controllers import (
        cronjob,
        daemonset,
        deployment,
        endpoints,
        endpointslice,
        garbage_collector,
        hpa,
        job,
        namespace,
        replicaset,
        statefulset,
    )

    return {
        "replicaset": replicaset.ReplicaSetController,
        "replicationcontroller": replicaset.ReplicationManager,
        "deployment": deployment.DeploymentController,
        "statefulset": statefulset.StatefulSetController,
        "daemonset": daemonset.DaemonSetController,
        "job": job.JobController,
        "ttl-after-finished": job.TTLAfterFinishedController,
        "cronjob": cronjob.CronJobController,
        "horizontalpodautoscaling": hpa.HorizontalPodAutoscalerController,
        "garbagecollector": garbage_collector.GarbageCollector,
        "endpoint": endpoints.EndpointsController,
        "endpointslice": endpointslice.EndpointSliceController,
        "namespace": namespace.NamespaceController,
    }
