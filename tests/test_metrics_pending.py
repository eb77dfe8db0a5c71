"""Observations folded in bulk give exactly what recording them one by one gives."""

from __future__ import annotations

import random
import threading

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelport.metrics import LATENCY_BUCKETS, Metrics
from modelport.metrics_pending import Pending, observe_many


def test_observe_many_equals_observing_one_at_a_time() -> None:
    generator = random.Random(7)
    values = [generator.choice(LATENCY_BUCKETS) for _ in range(200)]  # bounds themselves
    values += [generator.uniform(0, 12) for _ in range(300)] + [0.0, 1e9]
    one, many = CollectorRegistry(), CollectorRegistry()
    single = Histogram("d_seconds", "d", ["m"], buckets=LATENCY_BUCKETS, registry=one)
    bulk = Histogram("d_seconds", "d", ["m"], buckets=LATENCY_BUCKETS, registry=many)
    for value in values:
        single.labels("x").observe(value)
    observe_many(bulk.labels("x"), values)
    assert samples(many).keys() == samples(one).keys()
    for name, got in samples(many).items():
        if name[0].endswith("_created"):
            continue
        # The sum is added in another order: equal up to rounding.
        assert got == pytest.approx(samples(one)[name], rel=1e-12), name


def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_items_appended_from_many_threads_are_drained_once_each() -> None:
    pending: Pending[int] = Pending()
    drained: list[int] = []

    def add(start: int) -> None:
        for number in range(start, start + 10_000):
            pending.append(number)

    threads = [threading.Thread(target=add, args=(n * 10_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        drained += pending.drain()
    for thread in threads:
        thread.join()
    drained += pending.drain()
    assert sorted(drained) == list(range(40_000))


def test_a_scrape_shows_every_prediction_recorded_before_it() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.request("iris", 1, "native", "ok", 0.002)
    metrics.model_call("iris", 1, 5, [0.001, 0.002], 0.003)
    depths = {("iris", 1): 4}
    metrics.watch_queue_depths(lambda: depths)
    text = metrics.render(None)[0].decode()
    labels = 'model="iris",protocol="native",status="ok",version="1"'
    assert f"modelport_requests_total{{{labels}}} 3.0" in text
    assert 'modelport_batch_rows_sum{model="iris",version="1"} 5.0' in text
    assert 'modelport_queue_duration_seconds_count{model="iris",version="1"} 2.0' in text
    assert 'modelport_queue_depth{model="iris",version="1"} 4.0' in text
    depths.clear()  # the queue went idle
    assert 'modelport_queue_depth{model="iris",version="1"} 0.0' in metrics.render(None)[0].decode()


def test_the_background_fold_runs_without_a_scrape_and_stops() -> None:
    metrics = Metrics()
    metrics.start()
    try:
        metrics.request("iris", 1, "native", "ok", 0.002)
        for _ in range(200):
            if metrics.requests.labels("iris", "1", "native", "ok")._value.get() == 1:
                break
            threading.Event().wait(0.05)
        assert metrics.requests.labels("iris", "1", "native", "ok")._value.get() == 1
    finally:
        metrics.close()
    metrics.request("iris", 1, "native", "ok", 0.002)
    metrics.close()  # folds what is left, again
    assert metrics.requests.labels("iris", "1", "native", "ok")._value.get() == 2
