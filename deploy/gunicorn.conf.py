"""gunicorn settings for the storefront: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Read from the environment (the same one the app reads; systemd's EnvironmentFile or compose):

- GUNICORN_BIND: where to listen (default 127.0.0.1:8000, behind nginx on the same host;
  0.0.0.0:8000 in a container).
- GUNICORN_WORKERS: worker processes (default 2 × CPUs + 1, gunicorn's advice for sync
  workers; each serves one request at a time, and a checkout waits on Toss for up to a minute).
- LOG_FORMAT=json: gunicorn's own lines and its access log as JSON, through the app's handler.

Timeouts: a request may wait for Toss (a first charge reads for up to 65 s), so a worker is
killed only after 90 s of silence, and on SIGTERM (systemctl stop / reload, docker stop)
in-flight requests get 90 s to finish before the worker is stopped.
"""

import multiprocessing
import os

wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = 90  # above the Toss client's 65 s read timeout for a charge
graceful_timeout = 90  # SIGTERM: finish what is in flight first
# Only threaded/async workers keep a connection open between requests; the sync worker closes
# each one after its answer, so nginx's upstream keepalive (deploy/nginx/storefront.conf) opens a
# new connection per request while worker_class is sync.
keepalive = 5
max_requests = 2000  # recycle workers now and then (memory), staggered by the jitter
max_requests_jitter = 200
limit_request_line = 8190
forwarded_allow_ips = "127.0.0.1,::1"  # the app reads X-Forwarded-* itself (TRUSTED_PROXY_HOPS, ProxyFix)
proc_name = "storefront-web"
# gunicorn ≥ 25 opens a control socket in $HOME; systemd and compose manage it by signals instead.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# The request id nginx sends ($request_id) ties the access line to the app's log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" rid=%({x-request-id}i)s'

if (os.environ.get("LOG_FORMAT") or "").strip().lower() == "json":
    # Everything through the app's one JSON handler on the root logger (storefront.observability.logs);
    # AccessLogFields copies the request id, status and timing into fields before the app's
    # RedactAuthKeys filter rewrites the line.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"access_fields": {"()": "storefront.observability.logs.AccessLogFields"}},
        "handlers": {"storefront-json": {"()": "storefront.observability.logs.json_handler"}},
        "root": {"level": "INFO", "handlers": ["storefront-json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True, "filters": ["access_fields"]},
        },
    }
