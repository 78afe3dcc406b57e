"""Seed the bench database with the project's own models and services.

Run as a subprocess with the bench environment (`python -m bench.seed`, BENCH_API_KEY
set), after `manage.py migrate`. Idempotent. Creates the raw-insert reference table,
one flow with one Keap REST recipient step and one source with the known key, then
prints one JSON line: the flow id and the tables a run fills (to truncate between runs).
"""

from __future__ import annotations

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()
    from django.db import connection

    from integrations.intake.keys import source_create
    from integrations.models import (
        Account,
        AccountStatus,
        Attempt,
        AuthType,
        CrmKind,
        Delivery,
        Flow,
        Lead,
        Recipient,
        Source,
        Step,
    )
    from integrations.secrets import digest

    key = os.environ["BENCH_API_KEY"]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_lead"
            " (id bigserial PRIMARY KEY, body jsonb NOT NULL)"
        )
    account, _ = Account.objects.get_or_create(
        name="Bench Keap",
        crm=CrmKind.KEAP,
        defaults={
            "auth_type": AuthType.API_KEY,
            "api_key": "bench-not-a-real-keap-key",
            "status": AccountStatus.CONNECTED,
        },
    )
    flow, _ = Flow.objects.get_or_create(name="Bench flow")
    Step.objects.get_or_create(
        flow=flow,
        position=1,
        defaults={"name": "Keap REST", "account": account, "recipient": Recipient.KEAP_REST},
    )
    if not Source.objects.filter(flow=flow, key_digest=digest(key)).exists():
        source_create(flow=flow, name="Bench source", key=key)
    tables = [
        Attempt._meta.db_table,
        Delivery._meta.db_table,
        Lead._meta.db_table,
        "bench_raw_lead",
    ]
    print(
        json.dumps(
            {
                "flow_id": flow.pk,
                "tables": tables,
                "lead_table": Lead._meta.db_table,
                "delivery_table": Delivery._meta.db_table,
            }
        )
    )


if __name__ == "__main__":
    main()
