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


# Every logger writes JSON lines to stderr, gunicorn's error and access logs included
# (app/observability.py JsonFormatter; the access line carries the app's request id).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.observability.JsonFormatter"}},
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "WARNING", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO" if accesslog not in ("", "none", "off") else "WARNING",
            "handlers": ["json"],
            "propagate": False,
        },
    },
}


def on_starting(server) -> None:
    """In the master, before any worker: refuse unsafe settings, prepare the metrics folder."""
    refuse_unsafe_production_settings()
    warn_when_development_listens_beyond_loopback(server)
    prepare_metrics_directory(server)


def on_exit(server) -> None:
    """The metrics folder this server created for itself goes with it."""
    import shutil

    for directory in CREATED_METRICS_DIRECTORY:
        shutil.rmtree(directory, ignore_errors=True)


def child_exit(server, worker) -> None:
    """A worker is gone: its live gauges leave the metrics (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def refuse_unsafe_production_settings() -> None:
    """GAMENIGHT_CONFIG=production with an unsafe setting: exit 1 naming every variable."""
    if os.environ.get("GAMENIGHT_CONFIG") == "production":
        from config import ProductionConfig

        ProductionConfig.validate()  # a RuntimeError: gunicorn prints it and exits 1


def warn_when_development_listens_beyond_loopback(server) -> None:
    """Development (debug, a public secret key) on a non-loopback address: say so loudly."""
    from config import is_loopback_host

    if os.environ.get("GAMENIGHT_CONFIG", "development") != "development":
        return
    for address in server.cfg.bind:
        host = "localhost" if address.startswith(("unix:", "fd://")) else address.rpartition(":")[0]
        if not is_loopback_host(host.strip("[]")):
            server.log.warning(
                "DEVELOPMENT MODE LISTENING ON %s: debug settings and a public SECRET_KEY are "
                "reachable from other machines. Set GAMENIGHT_CONFIG=production (README, "
                "'Production deployment') or bind to 127.0.0.1.",
                address,
            )


CREATED_METRICS_DIRECTORY: list[str] = []


def prepare_metrics_directory(server) -> None:
    """PROMETHEUS_MULTIPROC_DIR emptied (or created) so /metrics counts this server only."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        import tempfile

        directory = tempfile.mkdtemp(prefix="gamenight-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        CREATED_METRICS_DIRECTORY.append(directory)
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    server.log.info("metrics of all workers collected in %s", directory)
