"""The mapping benchmark: 10,000 varied leads through one step with 30 mappings (10 of
them Liquid templates) and 10 rule sets (step criteria, mapping gates, tag and campaign
rules), on one core, in this process. Pure CPU: no database, no network.

Printed next to two references taken in the same run: the same leads through the
standard fields only (no configuration), and a JSON round trip of each lead (how fast
this machine is right now). The step's compiled mapper remembers template results and
custom field checks by their inputs (integrations.mapping.step_compiled); the leads
are mapped once more, through a fresh step with that memo off, so the figure that does
not count on repeated values is printed too (`mapping_10k_leads_no_memo_s`).
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
from typing import Any

TARGET_SECONDS = 1.0
LEADS = 10_000
HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}
STATES = ["TX", "Texas", "CA", "california", "NY", "FL", "Ontario", "AZ", "Atlantis", ""]
SOURCES = ["Google Ads", "Facebook", "Referral", "Webinar", "Unknown vendor"]
FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Fatima", "Gus", "Hiro", "Ivy", "José"]
LAST = ["Lee", "Smith", "O'Neil", "van der Berg", "Nguyen", "Müller", "Khan", "Rossi"]
DOB_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%Y.%m.%d", "%m-%d-%Y", "%d %b %Y"]
AREA_CODES = [212, 305, 312, 415, 480, 512, 602, 617, 702, 713, 818, 917, 416, 604]


def _leads(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    leads = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        year, month, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
        dob = time.strftime(rng.choice(DOB_FORMATS), (year, month, day, 0, 0, 0, 0, 1, -1))
        lead: dict[str, Any] = {
            "email": f"{first.lower()}.{n}@example{n % 97}.com".replace("'", ""),
            "phone_1": f"({rng.choice(AREA_CODES)}) {rng.randint(200, 999)}-{n % 10000:04d}",
            "phone_2": f"+1 {rng.choice(AREA_CODES)} {rng.randint(200, 999)} {n % 9973:04d}",
            "address_1": f"{rng.randint(1, 9999)} Main St",
            "city": rng.choice(["Austin", "Phoenix", "Toronto", "Miami"]),
            "state": rng.choice(STATES),
            "postal_code": f"{rng.randint(10000, 99999)}",
            "dob": dob,
            "score": str(rng.randint(0, 100)),
            "source_name": rng.choice(SOURCES),
            "utm": {"campaign": f"spring-{n % 13}", "source": "google", "medium": "cpc"},
            "touchpoints": rng.sample(["ad", "email", "webinar", "form", "call"], 3),
            "opt_in": rng.choice(["yes", "no", "true", ""]),
            "budget": rng.choice(["$1,200", "900", "lots", "15000.50"]),
            "comments": "Call after 5pm" if n % 3 else "",
            "website": f"https://site{n}.example.com",
            "company": rng.choice(["Acme", "Globex", ""]),
        }
        if n % 10 == 0:  # only a full name
            lead["full_name"] = f"{first} {last}"
        else:
            lead["first_name"], lead["last_name"] = first, last
        if n % 50 == 0:
            lead["email"] = "not-an-email"
        if n % 7 == 0:
            lead["phone_3"] = "555"  # invalid: sent as received
        leads.append(lead)
    return leads


CATALOGUE = {
    "custom_fields": [
        {"id": i, "name": f"Field {i}", "type": t}
        for i, t in enumerate(
            ["WholeNumber", "Text", "Date", "Currency", "YesNo", "Text", "Text", "Text"], start=7
        )
    ],
    "lead_sources": [{"id": i, "name": name} for i, name in enumerate(SOURCES[:4], start=1)],
    "tags": [{"id": 100, "name": "New Lead"}, {"id": 103, "name": "Hot Lead"}],
}


def _config() -> Any:
    from integrations.mapping.step_config import action_config, mapping_config, step_config

    def rule(field: str, operator: str, value: Any = None) -> dict[str, Any]:
        return {"conditions": [{"field": field, "operator": operator, "value": value}]}

    fields = [  # 15 lead fields
        ("score", "custom:7"),
        ("utm.campaign", "custom:8"),
        ("dob", "custom:9"),
        ("budget", "custom:10"),
        ("opt_in", "custom:11"),
        ("utm.source", "custom:12"),
        ("utm.medium", "custom:13"),
        ("source_name", "custom:14"),
        ("city", "city"),
        ("company", "company"),
        ("website", "website"),
        ("address_1", "address_1"),
        ("postal_code", "postal_code"),
        ("comments", "comments"),
        ("phone_2", "phone_2"),
    ]
    constants = [("Lead", "contact_type"), ("API", "source_type"), ("en_US", "preferred_locale"),
                 ("7", "owner_id"), ("Web form", "opt_in_reason")]  # fmt: skip
    templates = [
        ("{{ lead.first_name }} {{ lead.last_name }}", "custom:12"),
        ("Lead Path: {{ lead.touchpoints | join: ' > ' }}", "custom:13"),
        ("{% if lead.score >= 80 %}hot{% else %}warm{% endif %}", "custom:14"),
        ("{{ lead.source_name | source_lookup }}", "lead_source_id"),
        ("{{ lead.utm.campaign | upcase }}-{{ system.flow }}", "custom:8"),
        ("{{ now | date: '%Y-%m-%d' }}", "custom:9"),
        ("{{ lead.score | plus: 10 }}", "custom:7"),
        ("{{ lead.email | downcase }}", "email"),
        ("{{ lead.city }}, {{ lead.state }}", "address_2"),
        ("{% for t in lead.touchpoints %}{{ t | capitalize }} {% endfor %}", "comments"),
    ]
    gates = [rule("lead.score", "gte", "50"), rule("lead.opt_in", "true"),
             rule("lead.state", "in", "TX,CA,NY"), rule("lead.email", "valid", "email"),
             rule("lead.company", "not_blank")]  # fmt: skip
    mappings = [
        mapping_config(kind="field", source=s, target=t, on_invalid="drop") for s, t in fields
    ]
    mappings += [
        mapping_config(kind="constant", source=s, target=t, rules=gates[n], on_existing="keep")
        for n, (s, t) in enumerate(constants)
    ]
    mappings += [
        mapping_config(kind="template", source=s, target=t, on_invalid="drop") for s, t in templates
    ]
    actions = [
        action_config(kind="tag", item_id="100", rules=rule("lead.dob", "valid", "date")),
        action_config(kind="tag", item_id="103", rules=HOT),
        action_config(kind="tag", item_id="104", rules=rule("lead.touchpoints", "contains", "ad")),
        action_config(kind="keap_sequence", item_id="45", sequence_id="1", rules={
            "match": "any", "conditions": [HOT, rule("lead.source_name", "eq", "referral")]}),
    ]  # fmt: skip
    config = step_config(
        name="Keap",
        recipient="keap_rest",
        mappings=mappings,
        actions=actions,
        catalogue=CATALOGUE,
        criteria=rule("lead.email", "not_blank"),
    )
    assert len(config.mappings) == 30 and sum(m.kind == "template" for m in mappings) == 10
    return config


def _time(func: Any) -> float:
    # Each timing starts from an empty collector: otherwise a full collection owed to
    # what ran before (building the leads, an earlier timing) can fall into this one,
    # the JSON reference included. What the timed work allocates is still collected
    # inside its own timing.
    gc.collect()
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from integrations.mapping import step_compiled
    from integrations.mapping.context import SystemFields, lead_context
    from integrations.mapping.step_config import step_config
    from integrations.mapping.step_map import step_map

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    leads = _leads(LEADS)
    system = SystemFields(lead_id="bench", flow="Web leads", flow_id=1, source="Vendor")
    contexts = [lead_context(fields=lead, system=system, steps={}) for lead in leads]
    config, plain = _config(), step_config(name="Keap", recipient="keap_rest")
    step_map(config=config, context=contexts[0])  # compile and warm caches once

    # Each result is looked at and dropped, as a worker maps one lead at a time: keeping
    # 10,000 results alive would time the garbage collector walking them, not the mapper.
    seen = {"skipped": 0, "tagged": 0}

    def tally(result: Any) -> None:
        seen["skipped"] += result.skipped
        seen["tagged"] += result.plan is not None and "103" in result.plan.tag_ids

    def map_all(step: Any, each: Any = None) -> None:
        for context in contexts:
            result = step_map(config=step, context=context)
            if each is not None:
                each(result)

    mapped_s = _time(lambda: map_all(config, tally))
    plain_s = _time(lambda: map_all(plain))
    json_s = _time(lambda: [json.loads(json.dumps(lead)) for lead in leads])
    memo_entries, step_compiled.MEMO_ENTRIES = step_compiled.MEMO_ENTRIES, 0
    try:
        no_memo = _config()
        step_map(config=no_memo, context=contexts[0])
        no_memo_s = _time(lambda: map_all(no_memo))
    finally:
        step_compiled.MEMO_ENTRIES = memo_entries

    skipped, tagged = seen["skipped"], seen["tagged"]
    for name, value in (
        ("mapping_10k_leads_s", f"{mapped_s:.3f}"),
        ("mapping_leads_per_s", f"{LEADS / mapped_s:.0f}"),
        ("mapping_target_s", f"{TARGET_SECONDS:.1f}"),
        ("mapping_10k_leads_no_memo_s", f"{no_memo_s:.3f}"),
        ("mapping_standard_only_10k_s", f"{plain_s:.3f}"),
        ("mapping_reference_json_roundtrip_10k_s", f"{json_s:.3f}"),
        ("mapping_skipped", skipped),
        ("mapping_hot_tagged", tagged),
    ):
        print(f"{name}: {value}", flush=True)
    return 0
