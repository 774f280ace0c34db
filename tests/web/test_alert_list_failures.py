"""Broken data in the alerts list (issue 17), on SQLite and PostgreSQL: an alert whose
metric gave no data shows a "No data" badge whose hover text says why; it goes back to
plain once a readable value arrives."""

from __future__ import annotations

from html import unescape

from fastapi.testclient import TestClient
from test_pages import _alert, _metric, _push


def _row(ui: TestClient, name: str) -> str:
    listing = ui.get("/ui/").text
    return listing[listing.index(f'data-alert="{name}"') :].split("</tr>")[0]


def test_a_no_data_badge_says_why_on_hover(ui: TestClient) -> None:
    # Given an alert on a pushed metric
    metric_id = _metric(ui)
    _alert(ui, metric_id, name="Issues")
    # When an empty reading arrives
    _push(ui, metric_id, "[]")
    # Then its row's badge is "No data", with the reason on hover
    row = _row(ui, "Issues")
    assert 'data-state="no_data" title="' in row
    title = unescape(row.split('title="', 1)[1].split('"', 1)[0])
    assert title == "the result is an empty list; failure notice"
    # And a readable value takes the badge and its hover text away
    _push(ui, metric_id, "3")
    row = _row(ui, "Issues")
    assert 'data-state="ok">' in row and "title=" not in row.split("</td>")[1]
