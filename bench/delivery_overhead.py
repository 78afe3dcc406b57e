"""Engine time per delivery, excluding HTTP: run in a subprocess with the bench's
environment (`python -m bench.delivery_overhead FLOW_ID COUNT`), against the server the
bench started (the sandbox CRMs).

Stores COUNT leads of the flow without waking any worker, then works each delivery in
this process with `delivery_attempt`, timing the whole call and, separately, the time
spent inside HTTP requests (requests' `Session.send`), and counting the SQL statements
each delivery runs and the CPU time it takes (in all, and outside HTTP), and a fixed
pure-Python workload's time as the machine's speed of the moment (`reference_ms`), and
what one round trip to PostgreSQL and to Redis costs on the machine at that moment,
right after an idle wait as long as a CRM call of the run (`pg_round_trip_ms`,
`redis_round_trip_ms`) and back to back (`*_hot_ms`). Prints one JSON line.
`--profile FILE` also writes a cProfile of the measured deliveries to FILE
(`python -m pstats FILE`).
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()
    from unittest import mock

    import requests
    from django.db import connection

    from bench.stack import lead
    from integrations.delivery.engine import delivery_attempt
    from integrations.intake.auth import target_for_source
    from integrations.intake.services import lead_accept
    from integrations.models import Delivery, Source
    from integrations.secrets import digest

    flow_id, count = int(sys.argv[1]), int(sys.argv[2])
    profile_to = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--profile" else ""
    source = Source.objects.get(flow_id=flow_id, key_digest=digest(os.environ["DEMO_API_KEY"]))
    target = target_for_source(source)
    prefix = f"overhead-{time.time_ns()}"
    leads = []
    with mock.patch("integrations.delivery.enqueue.transaction.on_commit"):  # no worker
        for i in range(count):
            fields = lead(i, prefix)
            accepted = lead_accept(
                target=target, payload=fields, fields=fields, idempotency_key=None
            )
            leads.append(accepted.lead_id)
    ids = list(
        Delivery.objects.filter(lead_id__in=leads).order_by("pk").values_list("pk", flat=True)
    )

    in_http, in_http_cpu, http_calls = 0.0, 0.0, 0
    send = requests.Session.send

    def timed_send(self, *args, **kwargs):
        nonlocal in_http, in_http_cpu, http_calls
        http_calls += 1
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return send(self, *args, **kwargs)
        finally:
            in_http += time.perf_counter() - started
            in_http_cpu += time.process_time() - cpu_started

    requests.Session.send = timed_send
    delivery_attempt(delivery_id=ids[0])  # warm-up: connections, caches
    reference = machine_reference_ms()
    in_http, in_http_cpu, http_calls, total, statements, cpu = 0.0, 0.0, 0, 0.0, 0, 0.0

    def counted(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    profiler = cProfile.Profile() if profile_to else None
    with (
        mock.patch("integrations.delivery.enqueue.transaction.on_commit"),  # next steps
        connection.execute_wrapper(counted),
    ):
        for delivery_id in ids[1:]:
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            delivery_attempt(delivery_id=delivery_id)
            if profiler is not None:
                profiler.disable()
            total += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
    if profiler is not None:
        profiler.dump_stats(profile_to)
    done = Delivery.objects.filter(pk__in=ids[1:], outcome="success").count()
    measured = len(ids) - 1
    calls = max(1, http_calls)
    round_trips = machine_round_trips(idle=in_http / calls)
    print(
        json.dumps(
            {
                "deliveries": measured,
                "success": done,
                "total_ms": total * 1000 / measured,
                "http_ms": in_http * 1000 / measured,
                "overhead_ms": (total - in_http) * 1000 / measured,
                "queries": statements / measured,
                # This process's CPU time per delivery, HTTP included, and outside
                # HTTP: the overhead less the time spent waiting for PostgreSQL and
                # Redis to answer.
                "cpu_ms": cpu * 1000 / measured,
                "overhead_cpu_ms": (cpu - in_http_cpu) * 1000 / measured,
                "reference_ms": reference,
                **round_trips,
            }
        )
    )


def machine_reference_ms() -> float:
    """A fixed pure-Python workload (a million additions) timed in this process just
    before the deliveries: how fast the machine was during this run, to compare runs on
    a shared machine by."""
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return (time.perf_counter() - started) * 1000


def machine_round_trips(*, idle: float, rounds: int = 40) -> dict[str, float]:
    """What a round trip costs on this machine at the moment, in ms (medians): a bare
    `SELECT 1` on this process's database connection and a Redis PING on a connection
    like the limiter's, each right after sleeping `idle` seconds (the mean CRM call of the
    run: most of the engine's exchanges come right after a CRM answer, when PostgreSQL and
    Redis have been idle as long) and back to back. A reference for the overhead, whose
    every delivery waits on such exchanges in series: the claim and load, the first
    call's reservation, each progress write's answer, the outcome's durable commit."""
    import statistics

    import redis
    from django.conf import settings
    from django.db import connection

    connection.ensure_connection()
    pg = connection.connection
    client = redis.Redis.from_url(settings.RATELIMIT_REDIS_URL, single_connection_client=True)
    exchanges = {"pg": lambda: pg.execute("SELECT 1").fetchone(), "redis": client.ping}
    figures: dict[str, float] = {}
    for name, exchange in exchanges.items():
        exchange()
        for label, pause in (("", idle), ("_hot", 0.0)):
            times = []
            for _ in range(rounds):
                if pause:
                    time.sleep(pause)
                started = time.perf_counter()
                exchange()
                times.append((time.perf_counter() - started) * 1000)
            figures[f"{name}_round_trip{label}_ms"] = statistics.median(times)
    client.close()
    return figures


if __name__ == "__main__":
    main()
