"""vLLM's own prefix-cache hit rate, read from each replica's ``/metrics`` (for ``hilum status``).

vLLM (V1 engine) counts ``vllm:prefix_cache_queries_total`` (prompt tokens looked up) and
``vllm:prefix_cache_hits_total`` (of those, found in the cache); the hit rate is their ratio,
summed over label sets and replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

HITS = "vllm:prefix_cache_hits_total"
QUERIES = "vllm:prefix_cache_queries_total"


@dataclass(frozen=True)
class PrefixCacheStats:
    hits: float
    queries: float
    replicas_read: int
    errors: tuple[str, ...] = ()

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.queries if self.queries > 0 else None


def base_url(url: str) -> str:
    """``http://host:8000``, ``…/`` and ``…/v1`` all name the same vLLM server."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def parse_prefix_cache_counters(metrics_text: str) -> tuple[float, float]:
    """(hits, queries) summed over every label set in one Prometheus text exposition."""
    hits = queries = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == HITS:
                hits += sample.value
            elif sample.name == QUERIES:
                queries += sample.value
    return hits, queries


def prefix_cache_stats(
    urls: Sequence[str],
    *,
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 2.0,
) -> PrefixCacheStats:
    """Reads every replica's ``/metrics``; a replica that cannot be read is listed in ``errors``."""
    own = client is None
    http = client if client is not None else httpx.Client(transport=transport)
    hits = queries = 0.0
    read = 0
    errors: list[str] = []
    try:
        for url in urls:
            try:
                response = http.get(base_url(url) + "/metrics", timeout=timeout_s)
                response.raise_for_status()
                h, q = parse_prefix_cache_counters(response.text)
            except (httpx.HTTPError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            hits, queries, read = hits + h, queries + q, read + 1
    finally:
        if own:
            http.close()
    return PrefixCacheStats(hits=hits, queries=queries, replicas_read=read, errors=tuple(errors))


def prefix_cache_hit_rate(
    urls: Sequence[str],
    *,
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 2.0,
) -> float | None:
    """hits / queries over all replicas, or None when nothing was queried (or nothing answered)."""
    return prefix_cache_stats(urls, client=client, transport=transport, timeout_s=timeout_s).hit_rate
