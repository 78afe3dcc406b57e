"""Production settings pass Django's deployment checks; the admin is staff-only and
shows each delivery with its attempts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from integrations.models import Attempt, Delivery, Lead
from tests.factories import flow_with_step

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_reports_no_warnings_with_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "DEBUG", "SANDBOX"))
    }
    env.update(
        DEBUG="false",
        SECRET_KEY="prod-like-" + "k3y" * 20,
        FIELD_ENCRYPTION_KEYS="prod-like-encryption-key",
        ALLOWED_HOSTS="leadflow.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env["DEBUG"] = "false"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_setup_keeps_every_file_under_its_var_dir(tmp_path):
    """`make run` with LEADFLOW_VAR_DIR elsewhere: the filesystem broker's folders
    (created at start), beat's schedule file and the SQLite database all follow it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DEBUG="true", LEADFLOW_VAR_DIR=str(tmp_path / "state"))
    script = """
import django
django.setup()
from django.conf import settings
from leadflow.celery import app
broker = settings.CELERY_BROKER_TRANSPORT_OPTIONS
folders = [v for k, v in broker.items() if k.startswith("data_folder") or k.endswith("_folder")]
print(*folders, app.conf.beat_schedule_filename, settings.DATABASES["default"]["NAME"])
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # not the project: nothing may land in the working directory either
        env={**env, "DJANGO_SETTINGS_MODULE": "leadflow.settings", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    paths = [Path(p) for p in result.stdout.split()]
    assert len(paths) == 6  # in, out, processed, control; beat; the database
    assert all(p.is_relative_to(tmp_path / "state") for p in paths), paths
    assert (tmp_path / "state" / "broker" / "processed").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["state"]


@pytest.mark.django_db
def test_a_non_staff_user_cannot_reach_the_admin(client):
    user = get_user_model().objects.create_user("marta", password="pw-123456789")
    client.force_login(user)
    assert client.get("/admin/").status_code in (302, 403)
    assert client.get("/admin/integrations/lead/").status_code in (302, 403)


@pytest.mark.django_db
def test_the_admin_login_is_allauths(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_staff_find_a_lead_by_email_and_see_its_attempts(admin_client):
    flow, step, _ = flow_with_step()
    lead = Lead.objects.create(
        flow=flow,
        source=flow.sources.get(),
        payload={"email": "x@y.co"},
        fields={"email": "x@y.co"},
        email="x@y.co",
    )
    delivery = Delivery.objects.create(
        lead=lead,
        step=step,
        status="done",
        outcome="success",
        contact_id="4242",
        duplicate=True,
        response_ms=87,
    )
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        method="PUT",
        url="https://crm/contacts",
        request_body='{"given_name": "X"}',
        status_code=200,
        response_body='{"id": 4242}',
    )
    listing = admin_client.get("/admin/integrations/lead/?q=X@Y.co")
    assert str(lead.id) in listing.content.decode()
    page = admin_client.get(f"/admin/integrations/delivery/{delivery.pk}/change/").content.decode()
    assert "4242" in page and "given_name" in page and "PUT" in page
    assert admin_client.get(f"/admin/integrations/lead/{lead.id}/change/").status_code == 200
    assert admin_client.get(f"/admin/integrations/lead/?q={lead.id}").status_code == 200


@pytest.mark.django_db
def test_staff_find_the_two_factor_settings_from_the_admin(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/accounts/2fa/"' in page
    assert admin_client.get("/accounts/2fa/").status_code == 200
