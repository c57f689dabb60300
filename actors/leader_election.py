"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` package.

The scheduler and the controller-manager each run it so that of several replicas only one acts:

- ``LeaderElector.try_acquire_or_renew()`` is upstream's ``tryAcquireOrRenew``: create the Lease if there is
  none; take it over when its holder has not renewed within ``leaseDurationSeconds`` (counting a
  transition); renew it when this replica holds it. A conflicting write means someone else won: False;
- ``campaign()`` tries every ``retry_period`` until it holds the lease;
- ``keep_leading()`` renews every ``retry_period`` and raises ``LostLeadership`` once no renewal succeeded for
  ``renew_deadline``: the component stops (its actor crashes and restarts, as upstream's process exits) and
  campaigns again from a fresh start;
- ``lead(actor, ...)`` is the whole of it as a component runs it: campaign, then keep leading in a task of
  the actor's, with ``actor.leading`` telling whether it holds the lease.

Upstream's defaults: 15 s lease, 10 s renew deadline, 2 s retry period, all on the cluster clock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from actors.apiserver import status
from actors.runtime.clock import Clock
from actors.runtime.ref import ActorRef
from kube import meta

log = logging.getLogger("kubemu.leader_election")

LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0


class LostLeadership(Exception):
    """The lease could not be renewed within the renew deadline: stop (the actor restarts)."""


class Candidate(Protocol):
    """The actor that runs for a lease (``lead``)."""

    identity: str
    leading: bool
    clock: Clock

    async def sleep(self, delay: float) -> None: ...

    def start_task(self, coroutine: Coroutine[Any, Any, Any], *, name: str = "") -> Any: ...


async def lead(actor: Candidate, api: ActorRef, *, namespace: str, name: str, elect: bool = True) -> None:
    """Return once ``actor`` leads: with ``elect``, once it holds the Lease ``namespace/name`` (as
    ``actor.identity``), which a task of the actor's then keeps renewing until it fails (``LostLeadership``
    crashes the actor); without, at once. ``actor.leading`` is True from then until the lease is lost."""
    if elect:
        elector = LeaderElector(
            api=api,
            clock=actor.clock,
            sleep=actor.sleep,
            namespace=namespace,
            name=name,
            identity=actor.identity,
        )
        await elector.campaign()
        actor.start_task(_keep_leading(actor, elector), name="leader-election")
    actor.leading = True


async def _keep_leading(actor: Candidate, elector: LeaderElector) -> None:
    try:
        await elector.keep_leading()
    finally:
        actor.leading = False


@dataclasses.dataclass(kw_only=True)
class LeaderElector:
    api: ActorRef  # the apiserver
    clock: Clock
    sleep: Callable[[float], Awaitable[None]]  # the actor's clock-driven sleep
    namespace: str
    name: str
    identity: str
    lease_duration: float = LEASE_DURATION
    renew_deadline: float = RENEW_DEADLINE
    retry_period: float = RETRY_PERIOD

    async def campaign(self) -> None:
        """Return once this replica holds the lease."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except Exception as error:  # the apiserver is away: try again
                log.info("%s: lease %s/%s not acquired: %s", self.identity, self.namespace, self.name, error)
            await self.sleep(self.retry_period)

    async def keep_leading(self) -> None:
        """Renew until a renewal fails for ``renew_deadline``; then raise ``LostLeadership``."""
        renewed = self.clock.now()
        while True:
            await self.sleep(self.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    renewed = self.clock.now()
                    continue
            except Exception as error:
                log.info("%s: lease %s/%s not renewed: %s", self.identity, self.namespace, self.name, error)
            if self.clock.now() - renewed > self.renew_deadline:
                raise LostLeadership(f"{self.identity}: failed to renew lease {self.namespace}/{self.name}")

    async def try_acquire_or_renew(self) -> bool:
        """Acquire or renew the lease; False while another replica holds it."""
        now = self.clock.now()
        stamp = meta.now_rfc3339_micro(now)
        try:
            lease = await self.api.call("get", "leases", self.namespace, self.name)
        except status.ApiError as error:
            if error.code != 404:
                raise
            spec = {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            }
            body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
            try:
                await self.api.call("create", "leases", self.namespace, body)
            except status.ApiError as lost:
                if lost.code == 409:
                    return False
                raise
            return True
        current: dict[str, Any] = dict(lease.get("spec") or {})
        holder = current.get("holderIdentity")
        if holder != self.identity:
            renew = current.get("renewTime")
            duration = float(current.get("leaseDurationSeconds") or self.lease_duration)
            if holder and renew and meta.parse_rfc3339(renew) + duration > now:
                return False  # held by another, and not expired
            current.update(
                holderIdentity=self.identity,
                acquireTime=stamp,
                leaseTransitions=int(current.get("leaseTransitions") or 0) + 1,
            )
        current.update(renewTime=stamp, leaseDurationSeconds=int(self.lease_duration))
        try:
            await self.api.call("update", "leases", self.namespace, {**lease, "spec": current})
        except status.ApiError as error:
            if error.code == 409:
                return False
            raise
        return True
