"""Fixtures that run the same runtime tests over both backends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from actors.runtime.system import ActorSystem, SystemConfig, create_system

CALL_TIMEOUT = 5.0


def ensure_ray() -> None:
    """One local Ray for the whole session (starting one costs seconds); tests that need their own shut it."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray)])
async def system(request: pytest.FixtureRequest) -> AsyncIterator[ActorSystem]:
    config = SystemConfig(seed=7, call_timeout=CALL_TIMEOUT)
    if request.param == "ray":
        ensure_ray()
        system = create_system("ray", config, hosts=2)
    else:
        system = create_system("local", config)
    async with system:
        yield system


def two_hosts(system: ActorSystem) -> tuple[str, str]:
    """Two host names: the same on the local backend, different ones on Ray (so calls cross hosts)."""
    return ("local", "local") if system.backend == "local" else ("host-0", "host-1")
