"""Seed the admin benchmark's database: 2 million leads with one finished delivery each,
spread over the last 90 days, on 6 steps of 3 flows and 3 accounts, then the daily
counters rebuilt from them. PostgreSQL's bulk path: one INSERT … SELECT over
generate_series per table.

Run as a subprocess with the bench environment (`python -m bench.admin_seed`) after
`manage.py migrate`. Reuses what a previous run seeded when the marker table
(bench_admin_seed) says the same version and row count; the measurements are anchored
at the seed's date (bench/admin_measure.py), so an older seed measures the same pages.
Prints `name: value` lines.
"""

from __future__ import annotations

import os
import time

ROWS = int(os.environ.get("BENCH_ADMIN_ROWS", "2000000"))
SEED_VERSION = 1
ADMIN_USER, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-not-a-secret"
STEPS_PER_FLOW = 2

# A v7-shaped UUID from a timestamp and a row number (time first, so ids ascend with
# received_at, as the app's own time_ordered_uuid does).
UUID_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.bench_uuid(n bigint, ts timestamptz) RETURNS uuid AS $$
  SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
          || substr(md5(n::text), 1, 3) || '8' || substr(md5(n::text), 4, 15))::uuid
$$ LANGUAGE sql IMMUTABLE
"""
# Row n's moment: evenly over the 90 days before the seed.
MOMENT = "%(start)s::timestamptz + (%(span)s::interval * (n::float8 / %(rows)s))"

INSERT_LEADS = f"""
INSERT INTO integrations_lead
  (id, flow_id, source_id, payload, fields, email, status, idempotency_key, received_at,
   finished_at)
SELECT pg_temp.bench_uuid(n, ts), (%(flows)s::bigint[])[1 + n %% %(steps)s],
       (%(sources)s::bigint[])[1 + n %% %(steps)s],
       jsonb_build_object('email', e, 'first_name', 'Bench', 'last_name', 'Lead ' || n),
       jsonb_build_object('email', e, 'first_name', 'Bench', 'last_name', 'Lead ' || n),
       e, 'done', NULL, ts, ts + interval '1 second'
FROM generate_series(1, %(rows)s) AS n,
     LATERAL (SELECT {MOMENT} AS ts, 'bench' || n || '@example.com' AS e) AS row
"""  # noqa: S608 - only the constant MOMENT is formatted in

# Outcomes: about 88 % success, 6 % failure, 3 % error, 3 % skip; the last step fares
# worse (under its 90 % threshold). Response times 80–780 ms, 2 % slow ones.
INSERT_DELIVERIES = f"""
INSERT INTO integrations_delivery
  (lead_id, step_id, status, outcome, reason, contact_id, duplicate, response_ms,
   attempt_count, next_attempt_at, lease_owner, lease_expires_at, created_at, finished_at)
SELECT pg_temp.bench_uuid(n, ts), (%(step_ids)s::bigint[])[1 + n %% %(steps)s], 'done', outcome,
       CASE outcome WHEN 'failure' THEN (ARRAY['invalid email', 'duplicate email rejected',
                                               'field value too long'])[1 + n %% 3]
                    WHEN 'error' THEN (ARRAY['timeout', 'HTTP 503'])[1 + n %% 2]
                    WHEN 'skip' THEN 'no email or phone' ELSE '' END,
       CASE WHEN outcome = 'success' THEN (1000000 + n)::text ELSE '' END,
       CASE WHEN outcome = 'skip' THEN NULL ELSE n %% 5 = 0 END,
       ms, 1, ts, '', NULL, ts, ts + make_interval(secs => coalesce(ms, 0) / 1000.0)
FROM generate_series(1, %(rows)s) AS n,
     LATERAL (SELECT {MOMENT} AS ts,
                     ('x' || substr(md5(n::text), 20, 4))::bit(16)::int %% 1000
                       + CASE WHEN n %% %(steps)s = %(steps)s - 1 THEN 60 ELSE 0 END AS r,
                     ('x' || substr(md5(n::text), 24, 4))::bit(16)::int AS r2) AS a,
     LATERAL (SELECT CASE WHEN r < 880 THEN 'success' WHEN r < 940 THEN 'failure'
                          WHEN r < 970 THEN 'error' ELSE 'skip' END AS outcome) AS o,
     LATERAL (SELECT CASE WHEN outcome = 'skip' THEN NULL
                          ELSE 80 + r2 %% 700 + CASE WHEN r2 %% 50 = 0 THEN 2000 ELSE 0 END
                     END AS ms) AS m
"""  # noqa: S608 - only the constant MOMENT is formatted in


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()
    from django.db import connection

    fixtures = _fixtures()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_admin_seed"
            " (version int, rows bigint, seeded_at timestamptz)"
        )
        cursor.execute(
            "SELECT 1 FROM bench_admin_seed WHERE version = %s AND rows = %s",
            [SEED_VERSION, ROWS],
        )
        reuse = cursor.fetchone() is not None
        cursor.execute("SELECT count(*) FROM integrations_delivery")
        reuse = reuse and cursor.fetchone()[0] == ROWS
    if reuse:
        print("seed: reused the seeded database (same version and row count)", flush=True)
    else:
        _seed(fixtures)
    print(f"rows: {ROWS} leads, {ROWS} deliveries", flush=True)


def _fixtures() -> dict[str, list[int]]:
    from django.contrib.auth import get_user_model

    from integrations.models import Account, AuthType, CrmKind, Flow, Recipient, Source, Step

    user, _ = get_user_model().objects.get_or_create(
        username=ADMIN_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_password(ADMIN_PASSWORD)
    user.save()
    flows, sources, steps = [], [], []
    for i, name in enumerate(["Web leads", "Partner leads", "Webinar leads"]):
        account, _ = Account.objects.get_or_create(
            name=f"Bench account {i + 1}",
            crm=CrmKind.KEAP,
            defaults={"auth_type": AuthType.API_KEY},
        )
        flow, _ = Flow.objects.get_or_create(name=f"Bench {name}")
        source, _ = Source.objects.get_or_create(
            flow=flow, name="Bench source", defaults={"key_digest": f"bench-{i}", "key_hint": "b"}
        )
        for position in range(1, STEPS_PER_FLOW + 1):
            step, _ = Step.objects.get_or_create(
                flow=flow,
                position=position,
                defaults={
                    "name": f"Keap step {position}",
                    "account": account,
                    "recipient": Recipient.KEAP_REST,
                },
            )
            flows.append(flow.pk)
            sources.append(source.pk)
            steps.append(step.pk)
    return {"flows": flows, "sources": sources, "step_ids": steps}


def _seed(fixtures: dict[str, list[int]]) -> None:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from integrations.health.counters import utc_day
    from integrations.health.reconcile import counters_reconcile

    now = timezone.now()
    params = {
        **fixtures,
        "steps": len(fixtures["step_ids"]),
        "rows": ROWS,
        "start": now - timedelta(days=90),
        "span": timedelta(days=90) - timedelta(minutes=5),
    }
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # CASCADE: every table that references leads or deliveries (attempts, replay
        # items, lead revisions, whatever a later migration adds) is emptied with them.
        cursor.execute(
            "TRUNCATE integrations_attempt, integrations_delivery, integrations_lead,"
            " integrations_dailycounter, integrations_alertstate, bench_admin_seed CASCADE"
        )
        cursor.execute(UUID_FUNCTION)
        cursor.execute(INSERT_LEADS, params)
        leads_s = time.monotonic() - started
        cursor.execute(INSERT_DELIVERIES, params)
    deliveries_s = time.monotonic() - started - leads_s
    print(f"seed_leads_s: {leads_s:.1f}", flush=True)
    print(f"seed_deliveries_s: {deliveries_s:.1f}", flush=True)
    mark = time.monotonic()
    result = counters_reconcile(
        first_day=utc_day(now - timedelta(days=91)), last_day=utc_day(now), repair=True, quiet=True
    )
    print(
        f"seed_counters_s: {time.monotonic() - mark:.1f} ({result.keys_checked} keys)", flush=True
    )
    mark = time.monotonic()
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        for table in ("integrations_lead", "integrations_delivery", "integrations_dailycounter"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(
            "INSERT INTO bench_admin_seed VALUES (%s, %s, %s)", [SEED_VERSION, ROWS, now]
        )
    connection.set_autocommit(old_autocommit)
    print(f"seed_vacuum_s: {time.monotonic() - mark:.1f}", flush=True)
    print(f"seed_s: {time.monotonic() - started:.1f}", flush=True)


if __name__ == "__main__":
    main()
