"""gunicorn settings; each can be overridden by the environment variable named beside it."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
# Threaded workers (gthread): requests are short and mostly wait on PostgreSQL.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Recycle workers now and then, with jitter so they do not all restart together.
max_requests = 20_000
max_requests_jitter = 2_000
# No preload: each worker creates its own connection pool after the fork.
preload_app = False
accesslog = None
errorlog = "-"
