"""Rendezvous (highest-random-weight) hashing of session ids over vLLM replicas.

Every replica gets a score per session; the session goes to the highest score and fails over
in descending order. Removing a replica moves only the sessions it held; adding one takes an
even share from the others. A session staying on one replica is what makes its prefix cache hit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence


def _score(replica: str, key: str) -> int:
    digest = hashlib.blake2b(f"{replica}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_order(key: str, replicas: Sequence[str]) -> list[str]:
    """The replicas in the order a session tries them: its home first, then its failovers."""
    return sorted(replicas, key=lambda r: (-_score(r, key), r))


def route(key: str, replicas: Sequence[str], available: Callable[[str], bool] | None = None) -> str | None:
    """The first replica in ``key``'s order that is available (all are, without a predicate)."""
    for replica in rendezvous_order(key, replicas):
        if available is None or available(replica):
            return replica
    return None
