"""Two actors, a partition and a heal, on the local backend with a manual clock."""

import asyncio

from actors.runtime import errors
from actors.runtime.actor import Actor
from actors.runtime.system import SystemConfig, create_system


class Echo(Actor):
    async def echo(self, value: object) -> object:
        return value

    async def ask(self, other: str, value: object) -> object:
        return await self.ref(other).options(timeout=2.0).call("echo", value)


async def main() -> None:
    async with create_system("local", SystemConfig(seed=1, manual_clock=True)) as system:
        a = await system.spawn("a", Echo)
        await system.spawn("b", Echo)
        print("a asks b:", await a.call("ask", "b", "hello"))
        rule = await system.partition(["a"], ["b"])
        pending = asyncio.ensure_future(a.call("ask", "b", "anyone?"))
        await system.clock.advance(2.0)  # manual time: the lost call times out only as time passes
        try:
            await pending
        except errors.CallTimeout as error:
            print("partitioned:", error)
        await system.heal(rule)
        print("healed, a asks b:", await a.call("ask", "b", "back"))
        for event in await system.events():
            print("event:", event)


asyncio.run(main())
