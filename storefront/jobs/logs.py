"""Every log line a job writes carries its job id (`JobIdFilter`, installed on the worker's handler)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from rq import get_current_job


class JobIdFilter(logging.Filter):
    """Sets ``record.job_id`` to the running RQ job's id (``-`` outside a job); keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()
        record.job_id = job.id if job is not None else "-"
        return True


JOB_LOG_FORMAT = "%(asctime)s %(levelname)s [job %(job_id)s] %(name)s: %(message)s"


def job_log_handler(stream: TextIO | None = None) -> logging.Handler:
    """A stream handler whose lines name the job that wrote them."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(logging.Formatter(JOB_LOG_FORMAT))
    handler.set_name("storefront-jobs")
    return handler


def install_job_logging(stream: TextIO | None = None) -> None:
    """Log the `storefront` loggers at INFO with job ids, unless the process already has logging set up.

    Idempotent. Leaves processes alone whose root logger has handlers (gunicorn, pytest).
    """
    from flask.logging import default_handler

    logger = logging.getLogger("storefront")
    if logging.getLogger().handlers or any(h.get_name() == "storefront-jobs" for h in logger.handlers):
        return
    logger.removeHandler(default_handler)  # Flask's own, on app.logger (also named "storefront")
    logger.addHandler(job_log_handler(stream))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
