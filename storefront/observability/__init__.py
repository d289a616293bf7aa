"""Seeing the shop run: metrics, the timer's last sweep, logs and error reports.

- `histograms`: latency histograms kept in Redis, so every process on every machine adds to one
  figure (Toss calls, due sweeps) and any web process can show it.
- `collector`: the Prometheus collector `/metrics` runs at scrape time: facts read from the
  database and Redis, plus the histograms above.
- `sweeps`: the due sweep records its last success; `/healthz` reads it.
- `logs`: one JSON object per line (LOG_FORMAT=json) with request and job ids.
- `errors`: optional Sentry reporting (SENTRY_DSN) with billing keys, emails and secrets scrubbed.

Nothing here imports `storefront.web`; `web/metrics.py` and `web/health.py` serve these figures.
"""
