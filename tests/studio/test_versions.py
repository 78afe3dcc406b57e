"""Every save of a step's configuration is a version; deliveries record theirs; a
version can be restored."""

from __future__ import annotations

import pytest

from integrations.delivery.engine import delivery_attempt
from integrations.models import Delivery, FieldMapping, TagRule
from integrations.studio.versions import (
    step_version_record,
    step_version_restore,
    step_version_save,
    step_versions,
)
from tests.factories import accept_lead, flow_with_step

pytestmark = pytest.mark.django_db


def test_each_save_is_a_version_with_who_and_what(admin_user):
    _, step, _ = flow_with_step(mappings=[("lead_score", "custom:7")])
    TagRule.objects.create(step=step, tag_id="100", name="New Lead")
    first = step_version_save(step=step, user=admin_user, comment="Tagged new leads")
    step.name = "Keap, hot leads tagged"
    step.save()
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead")
    second = step_version_save(step=step, user=admin_user, comment="Added Hot Lead")
    versions = step_versions(step_id=step.pk)
    assert [v.revision_id for v in versions] == [second.pk, first.pk]
    assert versions[0].revision.user == admin_user
    assert versions[0].revision.get_comment() == "Added Hot Lead"
    assert versions[1].field_dict["name"] == "Deliver"
    tags_then = [
        v.field_dict["tag_id"]
        for v in versions[1].revision.version_set.all()
        if v.content_type.model == "tagrule"
    ]
    assert tags_then == ["100"]


def test_restoring_a_version_brings_back_the_step_and_its_mappings(admin_user):
    _, step, _ = flow_with_step(mappings=[("lead_score", "custom:7")])
    TagRule.objects.create(step=step, tag_id="100", name="New Lead")
    old = step_version_save(step=step, user=admin_user, comment="v1")
    step.tag_rules.all().delete()
    TagRule.objects.create(step=step, tag_id="103", name="Hot Lead")
    step.mappings.all().delete()
    FieldMapping.objects.create(step=step, source="utm", target="custom:8")
    step_version_save(step=step, user=admin_user, comment="v2")

    restored = step_version_restore(step=step, revision_id=old.pk, user=admin_user)

    step.refresh_from_db()
    assert [t.tag_id for t in step.tag_rules.all()] == ["100"]
    assert [(m.source, m.target) for m in step.mappings.all()] == [("lead_score", "custom:7")]
    assert step_versions(step_id=step.pk)[0].revision_id == restored.pk
    assert "Restored the version of" in restored.get_comment()


def test_a_delivery_records_the_version_its_step_had(admin_user):
    flow, step, _ = flow_with_step()
    version = step_version_save(step=step, user=admin_user, comment="v1")
    lead = accept_lead(flow, {"email": "ann@example.com"}, enqueue=False)
    delivery = Delivery.objects.get(lead=lead)
    step_version_record(delivery=delivery)
    assert Delivery.objects.get(pk=delivery.pk).step_revision_id == version.pk


@pytest.mark.django_db(transaction=True)
def test_the_engine_stamps_the_delivery_when_it_maps(admin_user, sandbox_urls):
    flow, step, _ = flow_with_step()
    version = step_version_save(step=step, user=admin_user, comment="v1")
    lead = accept_lead(flow, {"email": "ann@example.com"}, enqueue=False)
    delivery = Delivery.objects.get(lead=lead)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outcome == "success"
    assert delivery.step_revision_id == version.pk


def test_the_step_history_page_shows_who_changed_what_and_when(admin_client, admin_user):
    _, step, _ = flow_with_step()
    step_version_save(step=step, user=admin_user, comment="Added Hot Lead for scores ≥ 80")
    html = admin_client.get(f"/admin/integrations/step/{step.pk}/history/").content.decode()
    assert "Added Hot Lead for scores ≥ 80" in html
    assert admin_user.get_username() in html


def test_saving_in_the_admin_records_a_version_with_the_change_message(admin_client):
    from tests.studio.test_step_editor import change_url, form_data

    _, step, _ = flow_with_step()
    data = form_data(admin_client, step)
    data["name"] = "Keap (renamed)"
    assert admin_client.post(change_url(step), data).status_code == 302
    latest = step_versions(step_id=step.pk)[0]
    assert latest.field_dict["name"] == "Keap (renamed)"
    assert "Name" in latest.revision.get_comment()


def test_the_delivery_page_links_the_version_that_produced_it(admin_client, admin_user):
    flow, step, _ = flow_with_step()
    step_version_save(step=step, user=admin_user, comment="First setup")
    lead = accept_lead(flow, {"email": "ann@example.com"}, enqueue=False)
    delivery = Delivery.objects.get(lead=lead)
    step_version_record(delivery=delivery)
    html = admin_client.get(f"/admin/integrations/delivery/{delivery.pk}/change/").content.decode()
    assert "First setup" in html
    assert f"/admin/integrations/step/{step.pk}/history/" in html


def test_a_version_is_restored_from_its_history_page(admin_client, admin_user):
    from tests.studio.test_step_editor import form_data

    _, step, _ = flow_with_step(name="Before")
    TagRule.objects.create(step=step, tag_id="100", name="New Lead")
    old = step_version_save(step=step, user=admin_user, comment="v1")
    step.name = "After"
    step.save()
    step.tag_rules.all().delete()
    step_version_save(step=step, user=admin_user, comment="v2")
    version = step_versions(step_id=step.pk)[1]
    assert version.revision_id == old.pk
    url = f"/admin/integrations/step/{step.pk}/history/{version.pk}/"
    data = form_data(admin_client, step, url)
    assert data["name"] == "Before"
    assert admin_client.post(url, data).status_code == 302
    step.refresh_from_db()
    assert step.name == "Before"
    assert [t.tag_id for t in step.tag_rules.all()] == ["100"]
