"""Data for the mapping studio (migration 0002's new columns and models).

- Field mappings: a source holding "{{" or "{%" becomes a template, any other a
  lead field (what the old renderer did with them).
- Step.rules: the unused old default `[]` becomes `{}` (an empty rule set).
- Step.tag_ids / sequences / the id lists in options become TagRule and
  CampaignRule rows, named from the account's catalogue where it knows the id. The
  old columns are left as they were (readable, no longer read by the engine).

Frozen logic: it does not import application code. Reverse: the new rows go with
the models when 0002 is reversed, so nothing to undo here.
"""

from django.db import migrations

# options key -> (CampaignRule kind, action) on the Keap XML-RPC recipient
_XMLRPC_OPTION_KINDS = {
    "pause_sequence_ids": ("followup_sequence", "pause"),
    "resume_sequence_ids": ("followup_sequence", "resume"),
    "remove_sequence_ids": ("followup_sequence", "remove"),
    "action_set_ids": ("action_set", "start"),
}


def _names(catalogue, key):
    """id (as text) -> name, from one catalogue list."""
    items = catalogue.get(key) if isinstance(catalogue, dict) else None
    return {
        str(i.get("id")): str(i.get("name", ""))
        for i in items or []
        if isinstance(i, dict) and "id" in i
    }


def _id_list(value):
    if not isinstance(value, list):
        value = [value] if value not in (None, "") else []
    return [str(v).strip() for v in value if str(v).strip() and not isinstance(v, dict | list)]


def _sequence_names(catalogue):
    names = {}
    for campaign in (catalogue or {}).get("campaigns") or []:
        if not isinstance(campaign, dict):
            continue
        for seq in campaign.get("sequences") or []:
            if isinstance(seq, dict):
                names[(str(campaign.get("id")), str(seq.get("id")))] = (
                    f"{campaign.get('name', '')} › {seq.get('name', '')}"
                )
    return names


def forwards(apps, schema_editor):
    FieldMapping = apps.get_model("integrations", "FieldMapping")
    Step = apps.get_model("integrations", "Step")
    TagRule = apps.get_model("integrations", "TagRule")
    CampaignRule = apps.get_model("integrations", "CampaignRule")

    for mapping in FieldMapping.objects.all():
        templated = "{{" in mapping.source or "{%" in mapping.source
        mapping.value_kind = "template" if templated else "field"
        mapping.save(update_fields=["value_kind"])

    Step.objects.filter(rules=[]).update(rules={})

    for step in Step.objects.select_related("account").exclude(recipient=""):
        if TagRule.objects.filter(step=step).exists():
            continue
        if CampaignRule.objects.filter(step=step).exists():
            continue
        catalogue = step.account.catalogue if step.account_id else {}
        tag_names = _names(catalogue, "tags")
        tags = []
        for tag in _id_list(step.tag_ids):
            tags.append(("apply", tag))
        options = step.options if isinstance(step.options, dict) else {}
        if step.recipient == "keap_xmlrpc":
            tags += [("remove", t) for t in _id_list(options.get("remove_tag_ids"))]
        for position, (action, tag) in enumerate(tags):
            TagRule.objects.create(
                step=step, action=action, tag_id=tag, name=tag_names.get(tag, ""), position=position
            )

        campaigns = []  # (kind, action, item_id, sequence_id, name)
        campaign_names = _names(catalogue, "campaigns")
        sequence_names = _sequence_names(catalogue)
        for item in step.sequences if isinstance(step.sequences, list) else []:
            if not isinstance(item, dict) or item.get("campaign_id") in (None, ""):
                continue
            campaign = str(item["campaign_id"])
            if step.recipient == "keap_rest":
                sequence = str(item.get("sequence_id", "") or "")
                name = sequence_names.get((campaign, sequence), "")
                campaigns.append(("keap_sequence", "start", campaign, sequence, name))
            elif step.recipient == "keap_xmlrpc":
                campaigns.append(("followup_sequence", "start", campaign, "", ""))
            elif step.recipient == "highlevel":
                name = campaign_names.get(campaign, "")
                campaigns.append(("highlevel_campaign", "start", campaign, "", name))
        if step.recipient == "keap_xmlrpc":
            for key, (kind, action) in _XMLRPC_OPTION_KINDS.items():
                for item_id in _id_list(options.get(key)):
                    campaigns.append((kind, action, item_id, "", ""))
        if step.recipient == "highlevel":
            workflow_names = _names(catalogue, "workflows")
            for item_id in _id_list(options.get("workflow_ids")):
                name = workflow_names.get(item_id, "")
                campaigns.append(("highlevel_workflow", "start", item_id, "", name))
        for position, (kind, action, item_id, sequence_id, name) in enumerate(campaigns):
            CampaignRule.objects.create(
                step=step,
                kind=kind,
                action=action,
                item_id=item_id,
                sequence_id=sequence_id,
                name=name,
                position=position,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_mapping_studio_model"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
