"""The dashboard: the admin's home page for those allowed to see it, its numbers link to
the deliveries behind them, and its CSV export says what its table says."""

import csv
import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from integrations.health.counters import counters_record
from integrations.models import DailyCounter, Outcome
from tests.factories import finished_delivery, flow_with_step, keap_account

pytestmark = pytest.mark.django_db


class TableParser(HTMLParser):
    """The cells' text and first links of the table with id health-table."""

    def __init__(self):
        super().__init__()
        self.rows, self.depth, self.cell, self.in_table = [], 0, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "health-table":
            self.in_table = True
        elif self.in_table and tag == "tr":
            self.rows.append([])
        elif self.in_table and tag == "td":
            self.cell = {"text": "", "href": None}
        elif self.cell is not None and tag == "a" and self.cell["href"] is None:
            self.cell["href"] = attrs.get("href")

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag == "td" and self.cell is not None:
            self.cell["text"] = self.cell["text"].strip()
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


@pytest.fixture
def history():
    """Two accounts' steps over the last days: Keap healthy, the other at 80 %."""
    _, good, _ = flow_with_step(flow_name="Good flow", name="Good step")
    _, poor, _ = flow_with_step(
        flow_name="Poor flow", name="Poor step", account=keap_account(name="Other")
    )
    now = timezone.now()
    for days_ago in range(3):
        moment = now - timedelta(days=days_ago)
        plan = [(good, Outcome.SUCCESS, "", 19), (good, Outcome.FAILURE, "invalid email", 1),
                (poor, Outcome.SUCCESS, "", 8), (poor, Outcome.FAILURE, "invalid email", 1),
                (poor, Outcome.ERROR, "timeout", 1)]  # fmt: skip
        for step, outcome, reason, n in plan:
            for i in range(n):
                counters_record(
                    delivery=finished_delivery(
                        step, outcome=outcome, reason=reason, duplicate=i % 4 == 0,
                        response_ms=100 + 40 * i, finished_at=moment,
                        email=f"{step.pk}-{days_ago}-{outcome}-{i}@example.com",
                    )
                )  # fmt: skip
    return good, poor


def table(html: str) -> list[list[dict]]:
    parser = TableParser()
    parser.feed(html)
    return [row for row in parser.rows if row]


def test_the_admin_home_is_the_dashboard_with_a_red_badge_on_the_poor_step(admin_client, history):
    page = admin_client.get("/admin/?range=7d").content.decode()
    assert "Delivery health" in page
    assert 'id="health-data"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert not re.search(r'<script[^>]+src="https?://', page)  # no asset from the internet
    rows = {row[0]["text"]: row for row in table(page)}
    poor = rows["Poor flow › Poor step"]
    assert poor[6]["text"] == "80.0"  # success %
    assert 'badge-alert">80.0<' in page
    good = rows["Good flow › Good step"]
    assert good[6]["text"] == "95.0"


def test_users_without_the_permission_keep_the_normal_index(client, history):
    staff = get_user_model().objects.create_user("clerk", "c@example.com", "pw-long-123456")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert 'id="health-table"' not in page and "Lead delivery" in page  # Django's index
    assert client.get("/admin/integrations/dailycounter/export.csv").status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(get_user_model().objects.get(pk=staff.pk))
    assert 'id="health-table"' in client.get("/admin/").content.decode()


def test_every_count_links_to_the_delivery_list_behind_it(admin_client, history):
    page = admin_client.get("/admin/?range=30d").content.decode()
    for row in table(page):
        for cell, column in zip(
            row[1:6], ("deliveries", "success", "failure", "error", "skip"), strict=True
        ):
            if not cell["text"]:
                continue
            listed = admin_client.get(cell["href"]).content.decode()
            shown = re.search(r"(\d+) deliver(?:y|ies)", listed.split('class="paginator"')[1])
            assert shown and shown.group(1) == cell["text"], (row[0]["text"], column, cell["href"])


def test_the_failure_link_filters_by_outcome_account_and_range(admin_client, history):
    _, poor = history
    page = admin_client.get(f"/admin/?range=7d&group=account&account={poor.account_id}")
    failures = next(row for row in table(page.content.decode()) if row[0]["text"] == "Other")[3]
    query = parse_qs(urlsplit(failures["href"]).query)
    assert query["outcome__exact"] == ["failure"]
    assert query["step__account__id__exact"] == [str(poor.account_id)]
    assert set(query) >= {"finished_from", "finished_to"}
    assert failures["text"] == "3"


def test_the_csv_says_what_the_table_says(admin_client, history):
    for query in ("range=7d&group=step", "range=24h&group=account", "range=90d&group=flow"):
        shown = [
            [cell["text"] for cell in row]
            for row in table(admin_client.get(f"/admin/?{query}").content.decode())
        ]
        response = admin_client.get(f"/admin/integrations/dailycounter/export.csv?{query}")
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert [row[:-2] for row in rows[1:]] == [
            [text if text != "—" else "" for text in row] for row in shown
        ]
        assert rows[0][0] == query.split("group=")[1]


def test_the_24_hour_view_reads_the_raw_rows_by_hour(admin_client, history):
    DailyCounter.objects.all().delete()  # not needed: the last 24 h come from the deliveries
    page = admin_client.get("/admin/?range=24h").content.decode()
    total = table(page)[0]
    assert (total[0]["text"], total[1]["text"]) == ("All deliveries", "30")
    assert (
        len(json.loads(re.search(r'id="health-data"[^>]*>(.*?)</script>', page).group(1))["labels"])
        >= 24
    )
