"""One cluster seed, one generator per actor.

``derive`` hashes the cluster seed with a name (an actor's, or ``"faults"``) so that each gets its own
``random.Random`` whose stream does not depend on which other actors exist or in what order they started,
nor on the process (no use of Python's salted ``hash``). Recording the seed replays the experiment.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, name: str) -> int:
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def derive(seed: int, name: str) -> random.Random:
    return random.Random(derive_seed(seed, name))
