"""Seed and start the replay benchmark, inside the bench environment.

    python -m bench.replay_seed seed    # BENCH_API_KEY, BENCH_ACCOUNT_RATE, BENCH_FAILED
    python -m bench.replay_seed start   # replays every failure of the replay flow

Each prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys

BATCH = 2_000


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()


def seed() -> dict:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from integrations.intake.keys import source_create
    from integrations.models import (
        Account,
        AccountStatus,
        AuthType,
        CrmKind,
        Delivery,
        Flow,
        Lead,
        Recipient,
        Step,
    )

    tables = ["integrations_replayitem", "integrations_replay", "integrations_attempt"]
    tables += ["integrations_delivery", "integrations_lead", "integrations_leadrevision"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    account, _ = Account.objects.update_or_create(
        name="Bench replay Keap",
        crm=CrmKind.KEAP,
        defaults={
            "auth_type": AuthType.API_KEY,
            "api_key": settings.SANDBOX_KEAP_API_KEY,
            "status": AccountStatus.CONNECTED,
            "rate_limit_per_second": int(os.environ["BENCH_ACCOUNT_RATE"]),
            "rate_limit_per_minute": 60 * int(os.environ["BENCH_ACCOUNT_RATE"]),
            # A Keap key's published 30,000 calls/day is what 10,000 replayed deliveries
            # (3 calls each) plus the live load exceed: the limiter rightly holds the rest
            # until the next UTC day. The sandbox's day limit is lifted, so is this one.
            "rate_limit_per_day": 86_400 * int(os.environ["BENCH_ACCOUNT_RATE"]),
        },
    )
    steps = {}
    for name in ("Bench replay flow", "Bench live flow"):
        flow, _ = Flow.objects.get_or_create(name=name)
        flow.sources.all().delete()
        steps[name], _ = Step.objects.get_or_create(
            flow=flow,
            position=1,
            defaults={"name": "Keap", "account": account, "recipient": Recipient.KEAP_REST},
        )
    live_flow = steps["Bench live flow"].flow
    source_create(flow=live_flow, name="Bench live source", key=os.environ["BENCH_API_KEY"])
    replay_step = steps["Bench replay flow"]
    source = source_create(flow=replay_step.flow, name="Bench replayed source")[0]
    now = timezone.now()
    total = int(os.environ["BENCH_FAILED"])
    for start in range(0, total, BATCH):
        leads = [
            Lead(
                flow=replay_step.flow,
                source=source,
                payload=fields,
                fields=fields,
                email=fields["email"],
                status="done",
                finished_at=now,
            )
            for n in range(start, min(total, start + BATCH))
            for fields in [
                {"first_name": "Re", "last_name": f"Play{n}", "email": f"re{n}@example.com"}
            ]
        ]
        Lead.objects.bulk_create(leads)
        Delivery.objects.bulk_create(
            Delivery(
                lead=lead,
                step=replay_step,
                status="done",
                outcome="failure",
                reason="rejected by CRM (400)",
                attempt_count=1,
                finished_at=now,
            )
            for lead in leads
        )
    return {"live_flow_id": live_flow.pk, "replay_step_id": replay_step.pk, "failed": total}


def start() -> dict:
    from integrations.models import Delivery
    from integrations.replay.services import ReplayRequest, replay_create

    step_id = int(os.environ["BENCH_REPLAY_STEP"])
    replay = replay_create(
        user=None,
        request=ReplayRequest(
            kind="filter",
            deliveries=Delivery.objects.filter(step_id=step_id),
            description=f"step={step_id}",
        ),
    )
    return {"replay_id": replay.pk, "total": replay.total}


if __name__ == "__main__":
    _setup()
    print(json.dumps({"seed": seed, "start": start}[sys.argv[1]]()))
