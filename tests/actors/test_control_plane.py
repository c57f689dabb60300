"""Where ``kubemu up`` puts the control plane on a cluster of hosts."""

from __future__ import annotations

import types
from typing import Any

from actors.control_plane import control_hosts


def _system(hosts: list[str]) -> Any:
    return types.SimpleNamespace(backend="ray" if hosts else "local", host_ids=hosts)


def test_locally_placement_decides() -> None:
    assert control_hosts(_system([])) == (None, [])
    assert control_hosts(_system(["host-0"])) == (None, [])


def test_on_ray_each_shard_gets_a_host_of_its_own_away_from_the_scheduler() -> None:
    home, shards = control_hosts(_system(["host-0", "host-1", "host-2", "host-3", "host-4"]))
    assert home == "host-0"
    first_four = [shards[i % len(shards)] for i in range(4)]  # spawn_scheduler's round robin, K = 4
    assert first_four == ["host-1", "host-2", "host-3", "host-4"]


def test_more_shards_than_other_hosts_wrap_round_to_the_first_host_last() -> None:
    home, shards = control_hosts(_system(["host-0", "host-1"]))
    assert home == "host-0"
    assert [shards[i % len(shards)] for i in range(3)] == ["host-1", "host-0", "host-1"]
