"""Bulk unique enqueue: the same jobs in Redis as RQ's own unique enqueue, ids already taken left alone."""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from storefront.rq_bulk import enqueue_unique_many


def add(a: int, b: int) -> int:
    return a + b


def test_jobs_enqueued_in_bulk_are_waiting_and_run_like_ordinary_ones(redis_url):
    queue = Queue("bulk", connection=Redis.from_url(redis_url))
    items = [(f"add-{i}", (i, 1), f"add {i}") for i in range(2500)]

    assert enqueue_unique_many(queue, add, items, chunk=1000, timeout=30, result_ttl=60) == [True] * 2500

    assert queue.count == 2500 and queue.job_ids[:2] == ["add-0", "add-1"]
    stored, ordinary = (
        Job.fetch("add-7", connection=queue.connection),
        queue.enqueue(add, 7, 1, job_timeout=30, result_ttl=60),
    )
    assert stored.get_status() == "queued" and stored.timeout == 30 and stored.result_ttl == 60
    assert (stored.description, stored.origin, stored.func_name, stored.args) == (
        "add 7",
        "bulk",
        ordinary.func_name,
        (7, 1),
    )
    assert set(queue.connection.hkeys(stored.key)) == set(queue.connection.hkeys(ordinary.key))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert Job.fetch("add-2499", connection=queue.connection).return_value() == 2500


def test_an_id_already_taken_is_not_enqueued_again_nor_overwritten(redis_url):
    queue = Queue("bulk", connection=Redis.from_url(redis_url))
    queue.enqueue(add, 1, 1, job_id="add-1", description="the first")

    enqueued = enqueue_unique_many(queue, add, [("add-0", (0, 1), "a"), ("add-1", (5, 5), "b"), ("add-2", (2, 1), "c")])

    assert enqueued == [True, False, True]
    assert queue.job_ids == ["add-1", "add-0", "add-2"]  # one entry per id
    assert Job.fetch("add-1", connection=queue.connection).description == "the first"
