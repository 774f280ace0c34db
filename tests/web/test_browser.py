"""The UI in a real browser (Debian's Chromium through Playwright), the way a person
would use it: a metric and an alert made through the forms, values pushed until it
fires, the alert page read, muted, and an alert made through the chat box.

Screenshots of the alerts page and the alert page land in build/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import screenshot

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _console_errors(page: Any) -> list[str]:
    """Script errors and refused resources (CSP violations show up here too)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_alert_from_form_fires_and_shows_its_story(live_server: str, page: Any, sink: Any) -> None:
    errors = _console_errors(page)
    # Given a metric made through the metric form
    page.goto(f"{live_server}/ui/metrics/new")
    page.fill("#m-name", "Open Issues")
    page.select_option("#m-source", "push")
    page.click("text=Create metric")
    expect(page.locator("h1")).to_have_text("Open Issues")

    # When an alert is made through the alert form, mistakes shown while typing
    page.click("text=New alert on this metric")
    page.fill("#f-name", "Notify if Issues > 5")
    page.fill("#f-threshold", "five")
    expect(page.locator("#form-errors [data-field=threshold_value]")).to_contain_text(
        "threshold_value"
    )
    page.fill("#f-threshold", "5")
    page.select_option("select[name=action_type] >> nth=0", "webhook")
    page.fill("input[name=action_target] >> nth=0", f"{sink.url}/hook")
    page.fill("input[name=action_secret] >> nth=0", "s3cret")
    expect(page.locator("#form-errors")).to_contain_text("Looks good")
    page.click("text=Preview")
    expect(page.locator("#preview-result")).to_contain_text("no completed run yet")
    page.click("text=Create alert")
    expect(page.locator("h1")).to_have_text("Notify if Issues > 5")
    expect(page.locator("#badges .badge")).to_have_text("OK")

    # And values are pushed until it fires
    page.click("text=Open Issues >> nth=0")
    for value in ("4", "6"):
        page.fill("input[name=value]", value)
        page.click("text=Record value")
        expect(page.locator(".flash")).to_contain_text(f"value {value}")
    expect(page.locator(".flash")).to_contain_text("1 fired, deliveries: sent")
    assert len(sink.requests) == 1 and sink.requests[0].json()["state"] == "triggered"

    # Then the alert page tells the story
    page.click("table >> text=Notify if Issues > 5")
    expect(page.locator("#badges .badge").first).to_have_text("Triggered")
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-ready", "1")
    assert chart.get_attribute("data-fired") == "1"
    assert chart.get_attribute("data-points") == "2"
    expect(chart.locator(".u-legend")).to_contain_text("Threshold")
    expect(chart.locator(".u-legend")).to_contain_text("Fired")
    data = page.evaluate("window.tocsinChart.data")
    assert data["limit"] == [5, 5] and data["fired"] == [None, 6]
    # Hovering the firing marker shows its value, time and reason.
    x, y = page.evaluate(
        """() => {
            const {plot, data} = window.tocsinChart;
            const i = data.fired.findIndex(v => v !== null);
            const r = plot.over.getBoundingClientRect();
            const x = plot.valToPos(data.t[i], 'x'), y = plot.valToPos(data.fired[i], 'y');
            return [r.left + x, r.top + y];
        }"""
    )
    # In from the left, as a hand would, stopping just inside the plot's right edge
    # (the firing run is the last point).
    page.mouse.move(x - 40, y)
    page.mouse.move(x - 2, y)
    tip = page.locator("#chart-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("6 · fired")
    expect(tip).to_contain_text("6 > 5; triggered")
    history = page.locator("#history tbody tr").first
    expect(history).to_contain_text("6 > 5; triggered")
    expect(history.locator(".event-tag")).to_have_text("fired")
    delivery = page.locator("#deliveries tbody tr").first
    expect(delivery).to_contain_text("webhook")
    expect(delivery).to_contain_text("sent")
    expect(delivery).to_contain_text("HTTP 200")
    screenshot(page, "alert-page")

    # When it is muted for an hour, the badge says so
    page.click("text=Mute 1 h")
    expect(page.locator(".flash")).to_contain_text("Muted for 1h")
    expect(page.locator("#badges [data-state=muted]")).to_have_text("Muted")
    expect(page.locator("text=Unmute")).to_be_visible()

    # And an alert asked for in the chat box appears once confirmed
    page.fill("aside.chat textarea", "Notify me if Open Issues > 10")
    page.click("aside.chat >> text=Plan")
    expect(page.locator("#chat-result .summary")).to_contain_text("above 10")
    expect(page.locator("#chat-result .back")).to_contain_text("would not have fired")
    page.click("#chat-result >> text=Confirm")
    expect(page.locator("#chat-result .saved")).to_contain_text("Created")
    page.goto(f"{live_server}/ui/")
    rows = page.locator("#alert-rows tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#alert-rows")).to_contain_text("Open Issues > 10")
    triggered = page.locator("#alert-rows tr", has_text="Notify if Issues > 5")
    expect(triggered.locator("[data-state=triggered]")).to_be_visible()
    expect(triggered.locator("[data-state=muted]")).to_be_visible()
    expect(triggered.locator("svg.spark polyline")).to_have_count(1)
    screenshot(page, "alerts-page")
    assert errors == []


def test_chat_cancel_saves_nothing_and_the_list_refreshes_itself(
    live_server: str, page: Any
) -> None:
    page.goto(f"{live_server}/ui/metrics/new")
    page.fill("#m-name", "Signups")
    page.click("text=Create metric")
    page.goto(f"{live_server}/ui/")
    expect(page.locator("#alert-rows")).to_contain_text("No alerts")
    page.fill("aside.chat textarea", "Notify me if Signups < 3")
    page.click("aside.chat >> text=Plan")
    page.click("#chat-result >> text=Cancel")
    expect(page.locator("#chat-result")).to_contain_text("nothing was saved")

    # An alert made elsewhere (here: the chat, confirmed) shows up without a reload.
    page.fill("aside.chat textarea", "Notify me if Signups < 3")
    page.click("aside.chat >> text=Plan")
    page.click("#chat-result >> text=Confirm")
    expect(page.locator("#alert-rows")).to_contain_text(re.compile("Signups"), timeout=8000)

    # Filters apply as they change; delete asks first, and Cancel keeps the alert.
    page.select_option("select[name=state]", "triggered")
    expect(page.locator("#alert-rows")).to_contain_text("No alerts match these filters")
    page.goto(f"{live_server}/ui/")
    page.click("#alert-rows >> text=Signups")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button.danger")
    expect(page.locator("h1")).to_contain_text("Signups")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.danger")
    expect(page.locator(".flash")).to_contain_text("and its history")
    expect(page.locator("#alert-rows")).to_contain_text("No alerts")
