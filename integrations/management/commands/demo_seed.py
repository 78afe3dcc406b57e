"""Create (or refresh) the demo: a staff login, CRM accounts, flows, a source key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from integrations.crm.registry import RECIPIENTS, api_base_url
from integrations.health.demo import demo_history_seed
from integrations.intake.keys import source_create
from integrations.management.demo_roles import demo_role_users
from integrations.models import (
    Account,
    AccountStatus,
    AuthType,
    CampaignRule,
    CrmKind,
    FieldMapping,
    Flow,
    Recipient,
    Source,
    Step,
    TagRule,
)
from integrations.secrets import digest

DEMO_USER = "admin"
DEMO_PASSWORD = "leadflow-demo"
DEMO_KEY_FALLBACK = "lf_demo_key_change_me_0123456789abcdef"

HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}
# Lead-source attribution in the person notes, and HighLevel's `source`.
NOTES_TEMPLATE = (
    "{{ lead.comments }}{% if lead.utm_campaign %} (campaign: {{ lead.utm_campaign }}"
    "{% if lead.score >= 80 %}, hot{% endif %}){% endif %}"
)
SOURCE_TEMPLATE = "{{ lead.utm_source | default: 'LeadFlow demo' }}"


@dataclass(frozen=True)
class DemoConfig:
    """What a demo step carries: (kind, source, target) mappings, (tag id, name, rule)
    tags, and CampaignRule fields."""

    mappings: tuple[tuple[str, str, str], ...] = ()
    tags: tuple[tuple[str, str, dict], ...] = ()
    campaigns: tuple[dict[str, Any], ...] = ()


# (flow name, recipient, CRM)
DEMO_FLOWS = [
    ("Web leads → Keap REST", Recipient.KEAP_REST, CrmKind.KEAP),
    ("Web leads → Keap XML-RPC", Recipient.KEAP_XMLRPC, CrmKind.KEAP),
    ("Web leads → HighLevel", Recipient.HIGHLEVEL, CrmKind.HIGHLEVEL),
]
# Valid in any account: a template into a standard field; HighLevel tags are names.
PORTABLE = {
    Recipient.KEAP_REST: DemoConfig(mappings=(("template", NOTES_TEMPLATE, "comments"),)),
    Recipient.KEAP_XMLRPC: DemoConfig(mappings=(("template", NOTES_TEMPLATE, "comments"),)),
    Recipient.HIGHLEVEL: DemoConfig(
        mappings=(("template", SOURCE_TEMPLATE, "source"),),
        tags=(("new-lead", "new-lead", {}), ("hot-lead", "hot-lead", HOT)),
    ),
}
# Ids that exist only in the built-in sandbox's catalogue (its seed data).
SANDBOX_ONLY = {
    Recipient.KEAP_REST: DemoConfig(
        mappings=(
            ("field", "score", "custom:7"),
            ("template", "{{ lead.utm_campaign }}", "custom:8"),
        ),
        tags=(("100", "New Lead", {}), ("103", "Hot Lead", HOT)),
        campaigns=(
            {
                "kind": "keap_sequence",
                "item_id": "45",
                "sequence_id": "1",
                "name": "Lead Nurture › Welcome",
                "rules": HOT,
            },
        ),
    ),
    Recipient.KEAP_XMLRPC: DemoConfig(
        mappings=(("field", "score", "custom:_LeadScore"),),
        tags=(("100", "New Lead", {}), ("103", "Hot Lead", HOT)),
        campaigns=({"kind": "followup_sequence", "item_id": "200", "name": "Welcome Series"},),
    ),
    Recipient.HIGHLEVEL: DemoConfig(
        mappings=(("field", "score", "custom:sbxCfLeadScore000001"),),
    ),
}
# Sandbox ids earlier demos stored (migrated into rules by 0003): removed off-sandbox.
_OLD_SANDBOX_IDS = {"100", "101", "45", "200"}


def points_at_sandbox(recipient: str) -> bool:
    """Whether the recipient's API is this installation's built-in sandbox."""
    if not settings.SANDBOX_ENABLED or recipient not in RECIPIENTS:
        return False
    return api_base_url(recipient).startswith(f"{settings.PUBLIC_BASE_URL}/sandbox/")


class Command(BaseCommand):
    help = "Create the demo user, accounts and flows (idempotent). Prints how to use them."

    def handle(self, *args, **options):
        self._user()
        role_users = demo_role_users()
        accounts = self._accounts()
        key = settings.DEMO_API_KEY or DEMO_KEY_FALLBACK
        lines, steps = [], []
        for name, recipient, crm in DEMO_FLOWS:
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
                },
            )
            _configure(step, PORTABLE[recipient])
            if points_at_sandbox(recipient):
                _configure(step, SANDBOX_ONLY[recipient])
            else:
                _strip(step, SANDBOX_ONLY[recipient])
            self._source(flow, key)
            steps.append(step)
            lines.append(f"  {flow.name}: {settings.PUBLIC_BASE_URL}{flow.intake_path}")
        self.stdout.write(
            "\nLeadFlow demo\n"
            f"  Admin:    {settings.PUBLIC_BASE_URL}/admin/"
            f"  (login {DEMO_USER} / {DEMO_PASSWORD})\n"
            f"  API key:  {key}\n"
            "Flows (POST JSON with header X-Api-Key):\n" + "\n".join(lines) + "\n"
            f"Example:\n  curl -s -H 'X-Api-Key: {key}' -H 'Content-Type: application/json' "
            '-d \'{"first_name":"Ann","last_name":"Lee","email":"ann@example.com"}\' '
            f"{settings.PUBLIC_BASE_URL}{Flow.objects.order_by('pk').first().intake_path}?wait=10\n"
        )
        history = demo_history_seed(steps=steps)
        if history:
            self.stdout.write(f"Demo history: {history} deliveries over 3 weeks (demo data).")
        self.stdout.write(
            "Staff roles (each sees only its part of the admin):\n" + "\n".join(role_users)
        )
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


def _configure(step: Step, demo: DemoConfig) -> None:
    """Add what the demo carries, once (a rerun, or the marketer's edits, stay)."""
    for position, (kind, source, target) in enumerate(demo.mappings):
        FieldMapping.objects.get_or_create(
            step=step,
            target=target,
            defaults={"value_kind": kind, "source": source, "position": position},
        )
    for position, (tag_id, name, rules) in enumerate(demo.tags):
        TagRule.objects.get_or_create(
            step=step,
            tag_id=tag_id,
            defaults={"name": name, "rules": rules, "position": position},
        )
    for position, campaign in enumerate(demo.campaigns):
        fields = {k: v for k, v in campaign.items() if k in ("name", "rules", "sequence_id")}
        CampaignRule.objects.get_or_create(
            step=step,
            kind=campaign["kind"],
            item_id=campaign["item_id"],
            defaults={**fields, "position": position},
        )


def _strip(step: Step, demo: DemoConfig) -> None:
    """Off the sandbox, remove the sandbox-only ids a previous run put on the step."""
    step.mappings.filter(target__in=[target for _, _, target in demo.mappings]).delete()
    tag_ids = {tag_id for tag_id, _, _ in demo.tags} | _OLD_SANDBOX_IDS
    step.tag_rules.filter(tag_id__in=tag_ids).delete()
    item_ids = {c["item_id"] for c in demo.campaigns} | _OLD_SANDBOX_IDS
    step.campaign_rules.filter(item_id__in=item_ids).delete()
    if step.tag_ids or step.sequences:
        step.tag_ids, step.sequences = [], []
        step.save(update_fields=["tag_ids", "sequences"])
