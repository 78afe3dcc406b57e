"""Seed the chaos database: one Keap API-key account on the sandbox, one flow with one
Keap REST step (a plain create, with a note), one source with the chaos key; the
account's quotas are lifted, as the sandbox's are.

Run as `python -m bench.chaos_seed` with the chaos environment (CHAOS_API_KEY set),
after `manage.py migrate`. Prints one JSON line: the flow id and the sandbox's contact
table.
"""

from __future__ import annotations

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()
    from django.conf import settings

    from integrations.intake.keys import source_create
    from integrations.models import Account, AccountStatus, AuthType, CrmKind, Flow, Step
    from integrations.sandbox.keap.models import Contact

    account, _ = Account.objects.update_or_create(
        name="Chaos Keap",
        crm=CrmKind.KEAP,
        defaults={
            "auth_type": AuthType.API_KEY,
            "api_key": settings.SANDBOX_KEAP_API_KEY,
            "status": AccountStatus.CONNECTED,
            # The run is about faults, not quotas: as the sandbox's spike arrest is
            # lifted (bench.chaos._arm_faults), so are the account's published key
            # quotas (240 calls a minute would stretch 1,000 leads past the settle time).
            "rate_limit_per_second": 1_000,
            "rate_limit_per_minute": 1_000_000,
            "rate_limit_per_day": 10_000_000,
        },
    )
    flow = Flow.objects.create(name="Chaos flow")
    Step.objects.create(
        flow=flow,
        position=1,
        name="Keap REST",
        account=account,
        recipient="keap_rest",
        action="create",
    )
    source_create(flow=flow, name="Chaos source", key=os.environ["CHAOS_API_KEY"])
    print(json.dumps({"flow_id": flow.pk, "contact_table": Contact._meta.db_table}))


if __name__ == "__main__":
    main()
