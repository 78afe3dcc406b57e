"""The services a benchmark runs against: PostgreSQL, the broker, and the load tools.

Everything here talks to 127.0.0.1 (or wherever DATABASE_URL / CELERY_BROKER_URL
point) and only ever to the dedicated bench database and queue.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import Failed, Refused

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
TOOLS = {"wrk": "wrk", "hey": "hey"}  # command -> Debian package


def require_backends() -> tuple[str, str]:
    """DATABASE_URL and CELERY_BROKER_URL, or Refused if they are not PostgreSQL and
    Redis/RabbitMQ (SQLite and the filesystem broker would measure something else)."""
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if urlsplit(database_url).scheme not in POSTGRES_SCHEMES:
        raise Refused(
            "DATABASE_URL must point at PostgreSQL (got "
            f"{mask(database_url) or 'nothing: SQLite'}); start PostgreSQL on 127.0.0.1:5432 "
            "or set DATABASE_URL=postgres://..."
        )
    if urlsplit(broker_url).scheme not in BROKER_SCHEMES:
        raise Refused(
            "CELERY_BROKER_URL must be Redis or RabbitMQ (got "
            f"{mask(broker_url) or 'nothing: the filesystem broker'}); start Redis on "
            "127.0.0.1:6379 or set CELERY_BROKER_URL=redis://..."
        )
    return database_url, broker_url


def mask(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def libpq_url(url: str) -> str:
    """django-environ accepts pgsql://; libpq wants postgresql://."""
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql"))


def bench_broker_url(broker_url: str) -> str:
    """Redis: database 14 of the same server. RabbitMQ: the same vhost (the bench uses
    its own queue name, see CELERY_QUEUE)."""
    if urlsplit(broker_url).scheme.startswith("redis"):
        return with_path(broker_url, "/14")
    return broker_url


def _connect(database_url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=5)


def ensure_database(database_url: str, name: str) -> str:
    """Create database `name` next to DATABASE_URL's if missing; return its URL."""
    with _connect(with_path(database_url, "/postgres")) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_path(database_url, f"/{name}")


def truncate(database_url: str, tables: list[str]) -> None:
    """Empty the tables a run fills, so each run starts from the same state."""
    names = sql.SQL(", ").join(sql.Identifier(t) for t in tables)
    with _connect(database_url) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))


def count_rows(database_url: str, table: str) -> int:
    with _connect(database_url) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        return conn.execute(query).fetchone()[0]


def server_version(database_url: str) -> str:
    with _connect(database_url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def purge_queue(broker_url: str, queue: str) -> int:
    """Drop the messages published to `queue` (nothing consumes them during a bench)."""
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=5) as conn:
            return conn.default_channel.queue_purge(queue) or 0
    except Exception as exc:  # noqa: BLE001 - e.g. RabbitMQ: the queue was never declared
        print(f"note: could not purge broker queue {queue}: {exc}", flush=True)
        return 0


def ensure_tools() -> None:
    """wrk and hey on PATH; installed with apt-get when missing and running as root."""
    missing = [cmd for cmd in TOOLS if shutil.which(cmd) is None]
    if not missing:
        return
    packages = [TOOLS[cmd] for cmd in missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Refused(
            f"{', '.join(missing)} not found; install with: "
            f"sudo apt-get install {' '.join(packages)}"
        )
    print(f"installing {' '.join(packages)} with apt-get ...", flush=True)
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt_env, timeout=300)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages], check=True, env=apt_env, timeout=300
    )
    still = [cmd for cmd in missing if shutil.which(cmd) is None]
    if still:
        raise Failed(f"apt-get did not provide {', '.join(still)}")
