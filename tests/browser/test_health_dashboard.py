"""An admin, in a real browser, logs in and lands on the health dashboard: the charts
are drawn, the step under 90 % wears a red badge, and its failure count opens the
delivery list filtered to exactly those deliveries."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.health.counters import counters_record
from integrations.models import Outcome
from tests.factories import finished_delivery, flow_with_step, keap_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-admin-password-5519"


@pytest.fixture
def history():
    _, good, _ = flow_with_step(flow_name="Web leads", name="Keap REST")
    _, poor, _ = flow_with_step(
        flow_name="Partner leads", name="HighLevel", account=keap_account(name="Partner CRM")
    )
    now = timezone.now()
    for days_ago in range(7):
        moment = now - timedelta(days=days_ago, minutes=5)
        for step, outcome, reason, n in (
            (good, Outcome.SUCCESS, "", 18),
            (good, Outcome.FAILURE, "invalid email", 1),
            (poor, Outcome.SUCCESS, "", 8),
            (poor, Outcome.FAILURE, "duplicate email rejected", 2),
        ):
            for i in range(n + days_ago % 3):
                delivery = finished_delivery(
                    step, outcome=outcome, reason=reason, duplicate=i % 4 == 0,
                    response_ms=120 + 37 * i, finished_at=moment,
                )  # fmt: skip
                counters_record(delivery=delivery)
    return good, poor


def chart_points(page, canvas_id: str) -> int:
    return page.evaluate(
        """id => {
            const chart = Chart.getChart(document.getElementById(id));
            return chart ? chart.data.datasets.reduce(
                (n, ds) => n + ds.data.filter(v => v !== null && v > 0).length, 0) : 0;
        }""",
        canvas_id,
    )


def painted_pixels(page, canvas_id: str) -> int:
    return page.evaluate(
        """id => {
            const canvas = document.getElementById(id);
            const context = canvas.getContext("2d");
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
            return painted;
        }""",
        canvas_id,
    )


def test_an_admin_lands_on_the_dashboard_and_follows_a_failure_count(
    live_server, page, history, tmp_path
):
    _, poor = history
    get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=login]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.wait_for_selector("#health-table")
    assert page.inner_text("h1") == "Delivery health"

    for canvas in ("chart-outcomes", "chart-success", "chart-response", "chart-duplicates",
                   "chart-reasons"):  # fmt: skip
        assert chart_points(page, canvas) > 0, canvas
        assert painted_pixels(page, canvas) > 2000, canvas
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    row = page.locator("#health-table tbody tr", has_text="Partner leads › HighLevel")
    badge = row.locator(".badge-alert")
    assert badge.count() == 1 and re.fullmatch(r"\d+\.\d", badge.inner_text())
    assert float(badge.inner_text()) < 90
    assert (
        page.locator("#health-table tbody tr", has_text="Web leads › Keap REST")
        .locator(".badge-alert")
        .count()
        == 0
    )

    failures = row.locator("td").nth(3)
    count = failures.inner_text()
    failures.locator("a").click()
    page.wait_for_url(re.compile(r"/admin/integrations/delivery/\?.*outcome__exact=failure"))
    assert f"step__id__exact={poor.pk}" in page.url
    assert re.search(rf"\b{count} deliveries\b", page.inner_text(".paginator"))
    outcomes = page.locator("#result_list td.field-outcome").all_inner_texts()
    assert outcomes and set(outcomes) == {"Failure"}
    page.screenshot(path=str(tmp_path / "failures.png"), full_page=True)

    # The rows' checkboxes work with the admin's actions script (the rows are rendered
    # by integrations/admin/rows.py): select all, then open one row.
    page.check("#action-toggle")
    boxes = page.locator("#result_list input.action-select")
    assert boxes.count() == len(outcomes)
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert page.inner_text(".action-counter").startswith(f"{len(outcomes)} of {len(outcomes)}")
    page.locator("#result_list th.field-id a").first.click()
    page.wait_for_url(re.compile(r"/admin/integrations/delivery/\d+/change/\?_changelist"))
    assert "Failure" in page.inner_text("#content")
