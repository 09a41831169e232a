"""Prometheus metrics: requests by operation and status with latency histograms (counted by
`termsvc.api.middleware.RequestContext`), the store's loads and kept expansions (read at scrape time), and
the hits and misses of this process's caches.

The request metrics live in the process's default registry, once per process. Under `termsvc serve
--workers N` (or several processes behind one port) set PROMETHEUS_MULTIPROC_DIR to an empty directory
shared by the workers, and /metrics sums them (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine, text

from termsvc.store.cache import CACHES

REQUESTS = Counter("termsvc_http_requests", "HTTP requests answered, by operation and status",
                   ["method", "operation", "status"])
# buckets from a cached $validate-code (about a millisecond) to a large expansion (tens of seconds)
LATENCY = Histogram("termsvc_http_request_duration_seconds", "Time to answer a request, by operation",
                    ["method", "operation"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


def observe(method: str, operation: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, operation, str(status)).inc()
    LATENCY.labels(method, operation).observe(seconds)


class StoreCollector(Collector):
    """What the store holds, read when scraped: load runs by kind and status, the time of the last
    successful load of each kind, and the number of expansions kept by the expansion cache."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        loads = GaugeMetricFamily("termsvc_loads", "Load runs recorded in the store, by kind and status",
                                  labels=["kind", "status"])
        last = GaugeMetricFamily("termsvc_last_load_finished_timestamp_seconds",
                                 "When the last successful load of each kind finished", labels=["kind"])
        kept = GaugeMetricFamily("termsvc_expansions_kept", "Expansions kept by the expansion cache")
        with self.engine.connect() as conn:
            for kind, status, count in conn.execute(text(
                    "SELECT kind, status, COUNT(*) FROM load_run GROUP BY kind, status ORDER BY kind, status")):
                loads.add_metric([kind, status], float(count))
            for kind, finished in conn.execute(text(
                    "SELECT kind, MAX(finished_at) FROM load_run WHERE status = 'completed' GROUP BY kind")):
                if finished is not None:
                    last.add_metric([kind], _epoch(finished))
            kept.add_metric([], float(conn.execute(text("SELECT COUNT(*) FROM expansion")).scalar_one()))
        yield from (loads, last, kept)


class CacheCollector(Collector):
    """Hits, misses and entries of this process's caches (termsvc.store.cache: expansions, value sets, code
    system metadata), by cache name."""

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily("termsvc_cache_hits", "Lookups answered from a per-process cache", labels=["cache"])
        misses = CounterMetricFamily("termsvc_cache_misses", "Lookups a per-process cache could not answer",
                                     labels=["cache"])
        entries = GaugeMetricFamily("termsvc_cache_entries", "Entries held by a per-process cache", labels=["cache"])
        for cache in CACHES:
            hits.add_metric([cache.name], float(cache.hits))
            misses.add_metric([cache.name], float(cache.misses))
            entries.add_metric([cache.name], float(len(cache)))
        yield from (hits, misses, entries)


def _epoch(value: object) -> float:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def exposition(engine: Engine) -> tuple[bytes, str]:
    """The text exposition: this process's (or all workers') request metrics, then the store's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        requests = generate_latest(workers)
    else:
        requests = generate_latest(REGISTRY)
    store = CollectorRegistry()
    store.register(StoreCollector(engine))
    store.register(CacheCollector())
    return requests + generate_latest(store), CONTENT_TYPE_LATEST
