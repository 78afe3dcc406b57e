"""The big lists render their rows per column (integrations/admin/rows.py): the same
HTML as Django's admin, cell for cell; a fixed number of queries whatever the rows and
steps; and none of the JSON documents read."""

from datetime import timedelta

import pytest
from django.contrib.admin.templatetags.admin_list import results
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.admin.rows import result_rows
from integrations.models import DeliveryStatus, Outcome
from tests.factories import finished_delivery, flow_with_step

pytestmark = pytest.mark.django_db

DELIVERIES = "/admin/integrations/delivery/"
LEADS = "/admin/integrations/lead/"


@pytest.fixture
def rows():
    """Deliveries with every kind of cell: blanks, nulls, each boolean, a pending one
    with no outcome, an email that needs escaping, a lead with no email."""
    step = flow_with_step()[1]
    now = timezone.now()
    made = [
        finished_delivery(
            step,
            outcome=Outcome.SUCCESS,
            email="ann@example.com",
            contact_id="c-1",
            duplicate=True,
            response_ms=1234,
            finished_at=now,
        ),
        finished_delivery(
            step,
            outcome=Outcome.FAILURE,
            reason="duplicate email rejected",
            email='<b>"bo&b"</b>@example.com',
            duplicate=False,
            response_ms=0,
            finished_at=now - timedelta(days=2),
        ),
        finished_delivery(step, outcome=Outcome.SKIP, reason="no email or phone", email=""),
        finished_delivery(step, outcome="", email="cy@example.com"),
    ]
    pending = made[-1]
    pending.status, pending.finished_at = DeliveryStatus.PENDING, None
    pending.save()
    return made


def django_rows(cl) -> list[str]:
    return ["".join(row) for row in results(cl)]


def fast_rows(cl) -> list[str]:
    return ["".join(row) for row in result_rows(cl)]


@pytest.mark.parametrize(
    "url",
    [
        DELIVERIES,
        f"{DELIVERIES}?outcome__exact=failure&finished_from=2000-01-01",
        f"{DELIVERIES}?q=ann@example.com",
        f"{DELIVERIES}?o=-9",
        LEADS,
        f"{LEADS}?status__exact=done",
    ],
)
def test_the_rows_are_the_html_django_renders(admin_client, rows, url):
    response = admin_client.get(url)
    cl = response.context["cl"]
    expected = django_rows(cl)
    assert expected, url
    assert fast_rows(cl) == expected
    page = response.content.decode()
    assert all(row in page for row in expected)


def test_without_actions_there_is_no_checkbox_and_the_rows_still_match(client, rows):
    viewer = get_user_model().objects.create_user("viewer", password="long-pass-123")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    cl = client.get(DELIVERIES).context["cl"]
    assert "action_checkbox" not in cl.list_display
    assert fast_rows(cl) == django_rows(cl)


def test_a_row_links_to_its_change_page_keeping_the_filters(admin_client, rows):
    page = admin_client.get(DELIVERIES, {"outcome__exact": "failure"}).content.decode()
    failure = rows[1]
    assert (
        f'href="/admin/integrations/delivery/{failure.pk}/change/'
        f'?_changelist_filters=outcome__exact%3Dfailure"'
    ) in page
    assert "&lt;b&gt;&quot;bo&amp;b&quot;&lt;/b&gt;@example.com" in page  # escaped


def list_queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_the_delivery_list_costs_the_same_queries_for_more_rows_and_steps(admin_client, rows):
    before = len(list_queries(admin_client, DELIVERIES))
    for n in range(3):
        step = flow_with_step(flow_name=f"Flow {n}", account=rows[0].step.account)[1]
        for i in range(5):
            finished_delivery(step, outcome=Outcome.SUCCESS, email=f"x{n}-{i}@example.com")
    assert len(list_queries(admin_client, DELIVERIES)) == before


def test_the_lists_read_no_json_document(admin_client, rows):
    for url in (DELIVERIES, f"{DELIVERIES}?outcome__exact=success", LEADS):
        for sql in list_queries(admin_client, url):
            assert '"progress"' not in sql and '"payload"' not in sql, sql
            assert '"fields"' not in sql and '"tag_ids"' not in sql, sql
