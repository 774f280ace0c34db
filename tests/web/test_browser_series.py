"""An alert over twelve series in a real browser (Debian's Chromium through Playwright):
the page draws the top 10 series as lines by default, a clicked row charts that series
with its events, and "Top 10 as lines" brings the lines back.

Screenshots land in build/screenshots/ (alert-series-top.png).
"""

from __future__ import annotations

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

# s{i}'s latest value is (7 i) mod 12: a ranking unlike the labels' order.
LATEST = {f"s{i:02d}": (7 * i) % 12 for i in range(12)}
RANKED = sorted(LATEST, key=lambda s: -LATEST[s])  # s05 (11), s10 (10), s03 (9), ...
RUNS = 5  # 60 evaluations: more than a page of history


def _console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _name(service: str) -> str:
    return f'{{service="{service}"}}'


def test_twelve_series_draw_the_top_ten_as_lines_then_the_clicked_one(
    live_server: str, page: Any, db: Database
) -> None:
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
    # Each run climbs to the latest values: run k of 5 gives value * (k + 1) / 5.
    for k in range(RUNS):
        rows = [[s, v * (k + 1) / RUNS] for s, v in LATEST.items()]
        resp = httpx.post(
            f"{live_server}/api/v1/metrics/{metric.id}/values",
            headers={"Authorization": f"Bearer {key}"},
            json={"value": {"columns": ["service", "errors"], "rows": rows}},
        )
        assert resp.status_code == 200, resp.text

    # Given the alert page with no series chosen
    page.goto(f"{live_server}/ui/alerts/{alert.id}")
    expect(page.locator("#series-triggered")).to_have_text("6 of 12 triggered")
    # Then its chart is the top ten by latest value, one line each, named by labels
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart).to_have_attribute("data-lines", "10")
    expect(chart).to_have_attribute("data-points", str(RUNS))
    expect(page.locator("#chart-top")).to_have_text("the top 10 of 12 series by latest value")
    expect(page.locator("#series-top")).to_have_class("here")
    names = page.evaluate("window.tocsinChart.data.lines.map(l => l.name)")
    assert names == [_name(s) for s in RANKED[:10]]
    # uPlot drew the ten lines and the threshold, each in the legend by its name.
    labels = page.evaluate("window.tocsinChart.plot.series.slice(1).map(s => s.label)")
    assert labels == [*names, "Threshold"]
    legend = chart.locator(".u-legend")
    for name in names:
        expect(legend).to_contain_text(name)
    expect(legend).not_to_contain_text(_name("s07"))  # 11th and 12th are not drawn
    top = page.evaluate("window.tocsinChart.plot.data[1]")
    assert top == [11 * (k + 1) / RUNS for k in range(RUNS)]
    assert page.evaluate("window.tocsinChart.plot.data[11]") == [5] * RUNS
    # Hovering the latest run lists the lines' values there, highest first.
    x, y = page.evaluate(
        """() => {
            const {plot, data} = window.tocsinChart;
            const r = plot.over.getBoundingClientRect();
            const i = data.t.length - 1;
            return [r.left + plot.valToPos(data.t[i], 'x'), r.top + plot.valToPos(11, 'y')];
        }"""
    )
    page.mouse.move(x - 40, y)
    page.mouse.move(x - 2, y)
    tip = page.locator("#chart-tip")
    expect(tip).to_be_visible()
    expect(tip.locator("div").first).to_have_text(f"{_name('s05')} 11")
    screenshot(page, "alert-series-top")

    # When older history is paged in (htmx), the series rows are not taken for charts
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(51)
    page.click("text=Older evaluations")
    expect(history).to_have_count(12 * RUNS)

    # When a row is clicked, that series is charted alone with its events
    page.click('#series-table a:has-text("s03")')
    expect(page.locator("#chart-series")).to_have_text(_name("s03"))
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart).to_have_attribute("data-points", str(RUNS))
    assert chart.get_attribute("data-lines") is None
    expect(page.locator("#series-top")).not_to_have_class("here")
    values = page.evaluate("window.tocsinChart.plot.data[1]")
    assert values == [9 * (k + 1) / RUNS for k in range(RUNS)]
    # 1.8, 3.6, 5.4 (fires), 7.2, 9: one firing, the limit line, the legend's markers
    assert chart.get_attribute("data-fired") == "1"
    assert page.evaluate("window.tocsinChart.data.limit") == [5] * RUNS
    expect(chart.locator(".u-legend")).to_contain_text("Fired")
    expect(page.locator("#history tbody tr").first).to_contain_text(_name("s03"))

    # And "Top 10 as lines" brings the lines back
    page.click("#series-top")
    expect(chart).to_have_attribute("data-lines", "10")
    expect(page.locator("#chart-top")).to_be_visible()
    assert errors == []
