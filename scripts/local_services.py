"""Print `export` lines for the local PostgreSQL and Redis/RabbitMQ when they answer.

`make test` evaluates this so that, on a machine running them on 127.0.0.1, the suite
uses them (a real database, a real broker, a real worker) without any setup; an
explicit DATABASE_URL / CELERY_BROKER_URL always wins, and on a bare machine the
suite falls back to SQLite and kombu's filesystem broker.
"""

import os
import shlex
import socket


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    exports = {}
    if not os.environ.get("DATABASE_URL") and answers(5432):
        exports["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/leadflow"
    if not os.environ.get("CELERY_BROKER_URL"):
        if answers(6379):
            exports["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
        elif answers(5672):
            exports["CELERY_BROKER_URL"] = "amqp://guest:guest@127.0.0.1:5672//"
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
