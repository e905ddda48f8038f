"""Prometheus metrics of one server (own registry, so several servers can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "shiftdc_requests", "Chat requests by HTTP status", ["status"], registry=r
        )
        self.queue_depth = Gauge("shiftdc_queue_depth", "Requests waiting for a batch", registry=r)
        self.batch_size = Histogram(
            "shiftdc_batch_size", "Rows per batch", buckets=(1, 2, 4, 8, 16, 32, 64), registry=r
        )
        self.ttft = Histogram(
            "shiftdc_time_to_first_token_seconds",
            "Time to first token",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "shiftdc_request_latency_seconds",
            "Total request latency",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("shiftdc_generated_tokens", "Tokens generated", registry=r)
        self.caption_hits = Counter(
            "shiftdc_caption_cache_hits", "Self-captions found in the cache", registry=r
        )
        self.caption_misses = Counter(
            "shiftdc_caption_cache_misses", "Self-captions the model had to make", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
