"""The pages in a real browser (Debian's Chromium through Playwright) as a person uses
them: at a phone's width, a metric's page (chart, Copy, Edit, Delete), the alert page's
mute field, the editor's backtest chart and the chat's suggestions.

Screenshots land in build/screenshots/ (phone-*.png, metric-page.png, alert-preview.png).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from conftest import screenshot
from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

METRIC = "Open Issues"
ALERT = "Notify if Open Issues in the production cluster > 5"


def _console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _seed(db: Database, *, metric: str = METRIC) -> tuple[str, str, str]:
    """A push metric with an alert, and an editor's API key to push with."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        found = MetricStore(conn, org_id).create({"name": metric, "source": {"type": "push"}})
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": found.id,
                "name": ALERT,
                "description": "Somebody should look at the backlog before it grows further.",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        _, key = create_api_key(conn, org_id, f"pusher {uuid.uuid4().hex[:6]}", "editor")
    return str(found.id), str(alert.id), key


def _push(base: str, metric_id: str, key: str, *values: float) -> None:
    for value in values:
        resp = httpx.post(
            f"{base}/api/v1/metrics/{metric_id}/values",
            headers={"Authorization": f"Bearer {key}"},
            json={"value": value},
        )
        assert resp.status_code == 200, resp.text


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 420, "height": 860}, device_scale_factor=1)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def _fits(page: Any, name: str) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    screenshot(page, f"phone-{name}")
    assert widths[0] <= widths[1], f"{name} scrolls sideways: {widths}"


def test_every_page_fits_a_phone_and_the_chat_sits_below(
    live_server: str, phone: Any, db: Database
) -> None:
    errors = _console_errors(phone)
    metric_id, alert_id, key = _seed(db)
    _push(live_server, metric_id, key, 4, 6, 3, 7)

    phone.goto(f"{live_server}/ui/")
    expect(phone.locator("#alert-rows")).to_contain_text(ALERT)
    _fits(phone, "alerts")

    phone.goto(f"{live_server}/ui/alerts/{alert_id}")
    expect(phone.locator("#chart")).to_have_attribute("data-ready", "1")
    _fits(phone, "alert")
    # The chart fits its box: no part of it is cut off or pushes the page wider.
    chart, box = phone.evaluate(
        """() => [document.querySelector('#chart .uplot').getBoundingClientRect().right,
                  document.querySelector('#chart').getBoundingClientRect().right]"""
    )
    assert chart <= box

    phone.goto(f"{live_server}/ui/metrics/{metric_id}")
    expect(phone.locator("#chart")).to_have_attribute("data-ready", "1")
    _fits(phone, "metric")

    phone.goto(f"{live_server}/ui/metrics")
    expect(phone.locator("#metrics")).to_contain_text(METRIC)
    _fits(phone, "metrics")

    phone.goto(f"{live_server}/ui/alerts/new?metric={metric_id}")
    phone.fill("#f-name", "Phone alert")
    phone.fill("#f-threshold", "5")
    phone.click("text=Preview")
    expect(phone.locator("#preview-chart")).to_have_attribute("data-ready", "1")
    _fits(phone, "alert-form")

    phone.goto(f"{live_server}/ui/")
    phone.fill("#chat-message", f"Notify me if {METRIC} > 10")
    phone.click("aside.chat >> text=Plan")
    expect(phone.locator("#chat-result .summary")).to_contain_text("above 10")
    _fits(phone, "chat")
    main, chat = phone.evaluate(
        """() => [document.querySelector('main').getBoundingClientRect().bottom,
                  document.querySelector('aside.chat').getBoundingClientRect().top]"""
    )
    assert chat >= main, "the chat box covers the page"
    assert errors == []


def test_a_metric_page_charts_copies_edits_and_deletes(
    live_server: str, browser: Any, db: Database
) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = _console_errors(page)
    metric_id, _, key = _seed(db)
    chart = page.locator("#chart")

    def time_labels() -> list[str]:
        expect(chart).to_have_attribute("data-ready", "1")
        labels = [v for v in page.evaluate("window.tocsinChart.plot.axes[0]._values") if v]
        # In UTC as the tables are, to the second (or finer), never one label twice.
        assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
        shape = r"\d\d:\d\d:\d\d(\.\d{3})?(\n\d\d-\d\d)?"
        assert all(re.fullmatch(shape, v) for v in labels), labels
        return labels

    _push(live_server, metric_id, key, 4)
    page.goto(f"{live_server}/ui/metrics/{metric_id}")
    time_labels()  # one run: the minute around it, not a span of years
    _push(live_server, metric_id, key, 6, 3)  # all within a second or so
    page.reload()
    time_labels()
    assert chart.get_attribute("data-points") == "3"
    assert page.evaluate("window.tocsinChart.data.value") == [4, 6, 3]
    screenshot(page, "metric-page")

    # Copy gives the curl line, which records a value when run as it is.
    shown = page.locator("#push-command").inner_text()
    page.click("button[data-copy=push-command]")
    expect(page.locator("button[data-copy=push-command]")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown and "$TOCSIN_API_KEY" in copied
    command = copied.replace("http://127.0.0.1:8000", live_server).replace(
        '"value": 6', '"value": 9'
    )
    ran = subprocess.run(
        ["bash", "-c", command + " --fail --silent"],
        env={**os.environ, "TOCSIN_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["execution"]["value"] == 9
    page.reload()
    expect(chart).to_have_attribute("data-points", "4")

    page.click("text=Edit")
    expect(page.locator("h1")).to_have_text(f"Edit {METRIC}")
    page.fill("#m-name", "Open Issues (prod)")
    page.click("text=Save")
    expect(page.locator("h1")).to_have_text("Open Issues (prod)")
    expect(page.locator(".flash")).to_contain_text("Saved.")

    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.click("#delete-form button")
    expect(page.locator("h1")).to_have_text("Open Issues (prod)")
    page.once("dialog", lambda d: answer(d, True))
    page.click("#delete-form button")
    expect(page.locator(".flash")).to_contain_text("Deleted metric 'Open Issues (prod)'")
    assert asked == ["Delete metric 'Open Issues (prod)' with its 1 alert(s) and 4 run(s)?"] * 2
    expect(page.locator("#metrics")).to_contain_text("No metrics yet")
    assert errors == []
    context.close()


def test_mute_preview_and_chat_answer_where_the_person_looks(
    live_server: str, page: Any, db: Database
) -> None:
    errors = _console_errors(page)
    metric_id, alert_id, key = _seed(db)
    with db.begin() as conn:
        MetricStore(conn, get_or_create_org(conn, "default")).create(
            {"name": "Closed Issues", "source": {"type": "push"}}
        )
    _push(live_server, metric_id, key, 4, 6, 3, 8)

    # A bad duration: the error beside the field, the page and the typed words kept.
    page.goto(f"{live_server}/ui/alerts/{alert_id}")
    page.fill("#mute-for-input", "forever")
    page.click("text=Mute for…")
    expect(page.locator("#mute-error")).to_be_visible()
    expect(page.locator("#mute-error")).to_contain_text("forever")
    expect(page.locator("h1")).to_have_text(ALERT)
    expect(page.locator("#mute-for-input")).to_have_value("forever")
    expect(page.locator("#chart")).to_have_attribute("data-ready", "1")
    field, error = page.evaluate(
        """() => [document.querySelector('#mute-for-input').getBoundingClientRect(),
                  document.querySelector('#mute-error').getBoundingClientRect()]
                 .map(r => ({top: r.top, bottom: r.bottom, left: r.left}))"""
    )
    assert error["top"] < field["bottom"] + 40  # beside it, not somewhere down the page
    page.fill("#mute-for-input", "2h")
    page.click("text=Mute for…")
    expect(page.locator(".flash")).to_contain_text("Muted for 2h")

    # The preview draws the backtest: values, the threshold, where it would have fired.
    page.goto(f"{live_server}/ui/alerts/new?metric={metric_id}")
    page.fill("#f-name", "Preview me")
    page.fill("#f-threshold", "5")
    page.click("text=Preview")
    drawn = page.locator("#preview-chart")
    expect(drawn).to_have_attribute("data-ready", "1")
    assert drawn.get_attribute("data-points") == "4"
    assert drawn.get_attribute("data-fired") == "1"
    assert drawn.get_attribute("data-suppressed") == "1"
    legend = drawn.locator(".u-legend")
    for label in ("Value", "Threshold", "Would fire"):
        expect(legend).to_contain_text(label)
    assert page.evaluate("window.tocsinPreviewChart.data.fired") == [None, 6, None, None]
    screenshot(page, "alert-preview")
    page.fill("#f-threshold", "7")
    page.click("text=Preview")  # a second preview redraws
    page.wait_for_function("() => window.tocsinPreviewChart.data.limit[0] === 7")
    expect(page.locator("#preview-chart")).to_have_attribute("data-ready", "1")
    expect(page.locator("#preview-chart")).to_have_attribute("data-fired", "1")
    assert page.evaluate("window.tocsinPreviewChart.data.fired") == [None, None, None, 8]
    # A recovery condition of its own draws where a firing would resolve
    page.fill("input[name=recovery_threshold]", "4")
    page.click("text=Preview")
    page.wait_for_function("() => window.tocsinPreviewChart.data.recovery[0] === 4")
    expect(page.locator("#preview-chart")).to_have_attribute("data-ready", "1")
    expect(page.locator("#preview-chart .u-legend")).to_contain_text("Recovers")

    # The chat's suggestions send the message put right; Confirm empties the box.
    page.fill("#chat-message", "Notify me if issues > 5")
    page.click("aside.chat >> text=Plan")
    chip = page.locator("#chat-result button.chip", has_text="Open Issues")
    expect(chip).to_be_visible()
    chip.click()
    expect(page.locator("#chat-message")).to_have_value("Notify me if Open Issues > 5")
    expect(page.locator("#chat-result .summary")).to_contain_text("Open Issues is above 5")
    page.click("#chat-result >> text=Confirm")
    expect(page.locator("#chat-result .saved")).to_contain_text("Created")
    expect(page.locator("#chat-message")).to_have_value("")
    # The page with the mute error is answered 422, as the alert form's mistakes are.
    assert [e for e in errors if "status of 422" not in e] == []


def test_an_alert_over_twelve_series_shows_them_and_charts_the_chosen_one(
    live_server: str, browser: Any, db: Database
) -> None:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(10_000)
    errors = _console_errors(page)
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Errors by service",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
            }
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        _, key = create_api_key(conn, org_id, "pusher", "editor")
    # Twelve services, three of them above 5; then s03 rises and falls across two runs.
    for shift in (0, 1, 2):
        rows = [[f"s{i:02d}", (9 if i < 3 else 1) + (shift % 2) * (i == 3) * 8] for i in range(12)]
        resp = httpx.post(
            f"{live_server}/api/v1/metrics/{metric.id}/values",
            headers={"Authorization": f"Bearer {key}"},
            json={"value": {"columns": ["service", "errors"], "rows": rows}},
        )
        assert resp.status_code == 200, resp.text

    page.goto(f"{live_server}/ui/")
    expect(page.locator(f'tr[data-alert="{alert.name}"] .series-count')).to_have_text(
        "3 of 12 triggered"
    )
    page.goto(f"{live_server}/ui/alerts/{alert.id}")
    expect(page.locator("#series-triggered")).to_have_text("3 of 12 triggered")
    expect(page.locator("#series-table tbody tr")).to_have_count(12)
    # The worst first: the triggered services lead the table.
    first = page.locator("#series-table tbody tr").first
    expect(first).to_have_attribute("data-series", '{service="s00"}')
    # Filtering by label narrows the table; choosing a series charts it.
    page.fill('input[name="label"]', "s03")
    page.click("#series form button, #series button")
    expect(page.locator("#series-table tbody tr")).to_have_count(1)
    page.click('#series-table a:has-text("s03")')
    expect(page.locator("#chart-series")).to_have_text('{service="s03"}')
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart).to_have_attribute("data-points", "3")
    values = page.evaluate("window.tocsinChart.plot.data[1]")
    assert values == [1, 9, 1]
    screenshot(page, "alert-series")
    assert errors == []
