"""Create (or refresh) the demo: a staff login, CRM accounts, flows, a source key."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from integrations.crm.registry import RECIPIENTS
from integrations.health.demo import demo_history_seed
from integrations.intake.keys import source_create
from integrations.models import (
    Account,
    AccountStatus,
    AuthType,
    CrmKind,
    FieldMapping,
    Flow,
    Recipient,
    Source,
    Step,
)
from integrations.secrets import digest

DEMO_USER = "admin"
DEMO_PASSWORD = "leadflow-demo"
DEMO_KEY_FALLBACK = "lf_demo_key_change_me_0123456789abcdef"

# (flow name, recipient, CRM, tags, sequences, options, (source, target) mappings)
DEMO_FLOWS: list[tuple[Any, ...]] = [
    (
        "Web leads → Keap REST",
        Recipient.KEAP_REST,
        CrmKind.KEAP,
        [100, 101],
        [{"campaign_id": 45, "sequence_id": 1}],
        {},
        [("lead_score", "custom:7")],
    ),
    (
        "Web leads → Keap XML-RPC",
        Recipient.KEAP_XMLRPC,
        CrmKind.KEAP,
        [100],
        [{"campaign_id": 200}],
        {},
        [],
    ),
    (
        "Web leads → HighLevel",
        Recipient.HIGHLEVEL,
        CrmKind.HIGHLEVEL,
        ["new-lead", "website"],
        [],
        {},
        [],
    ),
]


class Command(BaseCommand):
    help = "Create the demo user, accounts and flows (idempotent). Prints how to use them."

    def handle(self, *args, **options):
        self._user()
        accounts = self._accounts()
        key = settings.DEMO_API_KEY or DEMO_KEY_FALLBACK
        lines, steps = [], []
        for name, recipient, crm, tags, sequences, opts, mappings in DEMO_FLOWS:
            if recipient not in RECIPIENTS:
                continue  # that CRM client is not installed in this build
            flow, _ = Flow.objects.get_or_create(name=name)
            step, _ = Step.objects.get_or_create(
                flow=flow,
                position=1,
                defaults={
                    "name": f"{recipient.label}",
                    "account": accounts[crm],
                    "recipient": recipient,
                    "tag_ids": tags,
                    "sequences": sequences,
                    "options": opts,
                },
            )
            if not step.mappings.exists():
                for source, target in mappings:
                    FieldMapping.objects.create(step=step, source=source, target=target)
            self._source(flow, key)
            steps.append(step)
            lines.append(f"  {flow.name}: {settings.PUBLIC_BASE_URL}{flow.intake_path}")
        first_flow = Flow.objects.order_by("pk")[0]
        self.stdout.write(
            "\nLeadFlow demo\n"
            f"  Admin:    {settings.PUBLIC_BASE_URL}/admin/"
            f"  (login {DEMO_USER} / {DEMO_PASSWORD})\n"
            f"  API key:  {key}\n"
            "Flows (POST JSON with header X-Api-Key):\n" + "\n".join(lines) + "\n"
            f"Example:\n  curl -s -H 'X-Api-Key: {key}' -H 'Content-Type: application/json' "
            '-d \'{"first_name":"Ann","last_name":"Lee","email":"ann@example.com"}\' '
            f"{settings.PUBLIC_BASE_URL}{first_flow.intake_path}?wait=10\n"
        )
        history = demo_history_seed(steps=steps)
        if history:
            self.stdout.write(f"Demo history: {history} deliveries over 3 weeks (demo data).")
        self.stdout.write(f"Demo ready: {len(lines)} flows.")

    def _user(self) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=DEMO_USER,
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()

    def _accounts(self) -> dict[str, Account]:
        keap_key = settings.DEMO_KEAP_API_KEY or (
            settings.SANDBOX_KEAP_API_KEY if settings.SANDBOX_ENABLED else ""
        )
        hl_token = settings.DEMO_HIGHLEVEL_TOKEN or (
            settings.SANDBOX_HIGHLEVEL_TOKEN if settings.SANDBOX_ENABLED else ""
        )
        hl_location = settings.DEMO_HIGHLEVEL_LOCATION_ID or (
            settings.SANDBOX_HIGHLEVEL_LOCATION_ID if settings.SANDBOX_ENABLED else ""
        )
        specs = {
            CrmKind.KEAP: ("Demo Keap", keap_key, ""),
            CrmKind.HIGHLEVEL: ("Demo HighLevel", hl_token, hl_location),
        }
        accounts = {}
        for crm, (name, secret, external_id) in specs.items():
            account, _ = Account.objects.get_or_create(
                name=name, crm=crm, defaults={"auth_type": AuthType.API_KEY}
            )
            # Re-read the environment every start, so a changed DEMO_* setting applies.
            account.api_key, account.external_id = secret, external_id
            account.status = AccountStatus.CONNECTED if secret else AccountStatus.NOT_CONNECTED
            account.save()
            accounts[crm] = account
        return accounts

    def _source(self, flow: Flow, key: str) -> None:
        source = Source.objects.filter(flow=flow, name="Demo source").first()
        if source is None:
            source_create(flow=flow, name="Demo source", key=key)
        elif source.key_digest != digest(key):  # DEMO_API_KEY changed since last run
            source.key_digest, source.key_hint = digest(key), key[:8]
            source.save(update_fields=["key_digest", "key_hint"])
