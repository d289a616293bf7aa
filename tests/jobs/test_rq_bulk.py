"""Bulk unique enqueue: the same jobs in Redis as RQ's own enqueue, duplicates left alone."""

from __future__ import annotations

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from storefront.rq_bulk import JobSpec, enqueue_unique_many


def add(a: int, b: int) -> int:
    return a + b


def test_jobs_enqueued_in_bulk_are_waiting_and_run_like_ordinary_ones(redis_url):
    queue = Queue("bulk", connection=Redis.from_url(redis_url))
    specs = [JobSpec(add, (i, 1), f"add-{i}", {"timeout": 30, "result_ttl": 60, "description": f"add {i}"})
             for i in range(2500)]

    jobs = enqueue_unique_many(queue, specs, chunk=1000)

    assert [job.id for job in jobs if job is not None] == [f"add-{i}" for i in range(2500)]
    assert queue.count == 2500 and queue.job_ids[:2] == ["add-0", "add-1"]
    stored = Job.fetch("add-7", connection=queue.connection)
    assert stored.get_status() == "queued" and stored.timeout == 30 and stored.result_ttl == 60
    assert stored.description == "add 7" and stored.origin == "bulk"
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert Job.fetch("add-2499", connection=queue.connection).return_value() == 2500


def test_an_id_already_taken_is_not_enqueued_again_nor_overwritten(redis_url):
    queue = Queue("bulk", connection=Redis.from_url(redis_url))
    queue.enqueue(add, 1, 1, job_id="add-1", description="the first")

    jobs = enqueue_unique_many(queue, [JobSpec(add, (0, 1), "add-0"), JobSpec(add, (5, 5), "add-1"),
                                       JobSpec(add, (2, 1), "add-2")])

    assert [job.id if job is not None else None for job in jobs] == ["add-0", None, "add-2"]
    assert queue.job_ids == ["add-1", "add-0", "add-2"]  # one entry per id
    assert Job.fetch("add-1", connection=queue.connection).description == "the first"
