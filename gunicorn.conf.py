"""gunicorn settings with production defaults; each can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
# A request that takes longer than this is a bug or a hung dependency: the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM, finish the requests in flight before exiting.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 10000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 1000))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
# Client, request line, status, bytes, latency in ms, and the request id the app returned.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


def post_worker_init(worker):
    """Each worker (after the fork) runs its own Discord delivery thread."""
    from flask import Flask

    from app.discord.worker import start_in_web

    if isinstance(worker.wsgi, Flask):  # not gunicorn's error app, when loading failed
        start_in_web(worker.wsgi)


def worker_exit(server, worker):
    """Stop the delivery thread within its deadline; the lease covers what it leaves."""
    from app.discord.worker import stop_in_web

    stop_in_web()
