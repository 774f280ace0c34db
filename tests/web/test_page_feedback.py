"""What the pages answer to a person's input, through the ASGI app on SQLite and
PostgreSQL: a bad mute duration beside its field, the editor's backtest as chart data,
the chat's suggestions as messages to send and its box emptied once a plan is saved."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from web_support import alert_form, metric_form, post_form

from tocsin.web.chat import Suggestion, suggestions


def _metric(ui: TestClient, name: str = "Open Issues") -> str:
    resp = post_form(ui, "/ui/metrics/new", metric_form(name))
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"]).rsplit("/", 1)[1]


def _alert(ui: TestClient, metric_id: str, **fields: Any) -> str:
    resp = post_form(ui, "/ui/alerts/new", alert_form(metric_id, **fields))
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"]).rsplit("/", 1)[1]


def test_a_bad_mute_duration_is_shown_beside_its_field(ui: TestClient) -> None:
    alert_id = _alert(ui, _metric(ui))
    page = f"/ui/alerts/{alert_id}"
    for typed, says in (("forever", "forever"), ("", "expected a duration"), ("400d", "")):
        bad = post_form(ui, f"{page}/mute", {"for": typed})
        assert bad.status_code == 422, typed
        # The alert's own page again, with its chart and buttons, not an error page.
        assert "<h1>Notify if Issues &gt; 5</h1>" in bad.text and 'id="chart"' in bad.text
        form = bad.text[bad.text.index('id="mute-for"') :].split("</form>")[0]
        error = re.search(r'<span class="field-error" id="mute-error"[^>]*>([^<]+)</span>', form)
        assert error and says in unescape(error.group(1)), (typed, form)
        assert f'name="for" value="{typed}"' in form and 'aria-invalid="true"' in form
    assert 'data-state="muted"' not in ui.get(page).text  # nothing was muted
    fine = post_form(ui, f"{page}/mute", {"for": "2h30m"})
    assert fine.status_code == 303
    assert "mute-error" not in ui.get(page).text


def _series(html: str) -> dict[str, Any]:
    found = re.search(r"data-series='([^']+)'", html)
    assert found, html
    data: dict[str, Any] = json.loads(unescape(found.group(1)))
    return data


def test_the_preview_draws_the_backtest(ui: TestClient) -> None:
    metric_id = _metric(ui)
    empty = post_form(ui, "/ui/alerts/preview", alert_form(metric_id))
    assert "data-series" not in empty.text  # no runs: words, no empty chart
    for value in ("4", "6", "3", "8"):
        post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": value})
    preview = post_form(ui, "/ui/alerts/preview", alert_form(metric_id))
    assert 'data-limit-label="Threshold"' in preview.text
    data = _series(preview.text)
    assert data["value"] == [4, 6, 3, 8] and data["limit"] == [5, 5, 5, 5]
    # It fires on 6, resolves on 3, and the hour's cooldown holds back 8.
    assert data["fired"] == [None, 6, None, None]
    assert data["resolved"] == [None, None, 3, None]
    assert data["suppressed"] == [None, None, None, 8]
    assert "6 > 5" in data["reason"][1]
    eager = _series(
        post_form(ui, "/ui/alerts/preview", alert_form(metric_id, cooldown_seconds="0")).text
    )
    assert eager["fired"] == [None, 6, None, 8]

    relative = alert_form(
        metric_id, condition_type="relative_change", change_mode="percent", threshold_value="50"
    )
    shown = post_form(ui, "/ui/alerts/preview", relative)
    assert 'data-relative="1"' in shown.text and 'data-limit-label="Change limit"' in shown.text
    data = _series(shown.text)
    assert data["baseline"] == [None, 4, 6, 3] and data["limit"] == [None, 6, 9, 4.5]
    assert data["fired"] == [None, None, None, 8]


def test_suggestions_are_the_message_with_the_name_put_right() -> None:
    question = 'I don\'t know a metric called "Open Isues". Did you mean "Open Issues"?'
    assert suggestions("Notify me if open isues > 5", question, ["Open Issues"]) == [
        Suggestion("Open Issues", "Notify me if Open Issues > 5", True)
    ]
    many = '"issues" matches several metrics: which one, "Closed Issues" or "Open Issues"?'
    assert [
        s.message
        for s in suggestions("alert if issues > 5", many, ["Closed Issues", "Open Issues"])
    ] == [
        "alert if Closed Issues > 5",
        "alert if Open Issues > 5",
    ]
    # An unquoted reference: the words of the message that are words of the alert's name.
    which = 'Which alert: "Disk full" or "Disk slow"?'
    assert suggestions("mute disk for 1h", which, ["Disk full", "Disk slow"])[1] == Suggestion(
        "Disk slow", "mute Disk slow for 1h", True
    )
    # No candidates, but the names the question lists in place of the unknown one.
    unknown = 'I don\'t know a metric called "bugs". Your metrics: "Open Issues" or "Signups".'
    assert [s.message for s in suggestions("alert if bugs > 5", unknown, [])] == [
        "alert if Open Issues > 5",
        "alert if Signups > 5",
    ]
    # Nothing to replace: a start to edit, not a message to send as it is.
    assert suggestions("hello", 'Alerts: "Signups".', ["Signups"]) == [
        Suggestion("Signups", "hello (Signups)", False)
    ]
    example = (
        'Which metric should this alert watch? e.g. "Notify me on Slack #ops if Open Issues > 5"'
    )
    assert suggestions("notify me if it is > 5", example, []) == [
        Suggestion(
            "Notify me on Slack #ops if Open Issues > 5",
            "Notify me on Slack #ops if Open Issues > 5",
            False,
        )
    ]


def test_chat_offers_its_suggestions_and_empties_the_box_once_saved(ui: TestClient) -> None:
    _metric(ui)
    _metric(ui, "Closed Issues")
    asked = post_form(ui, "/ui/chat", {"message": "Notify me if issues > 5"})
    chips = re.findall(
        r'<button type="button" class="chip[^"]*" data-suggest="([^"]+)" data-send="(\d)"',
        asked.text,
    )
    assert chips == [
        ("Notify me if Closed Issues &gt; 5", "1"),
        ("Notify me if Open Issues &gt; 5", "1"),
    ], asked.text
    unknown = post_form(ui, "/ui/chat", {"message": "Notify me if bugs > 5"}).text
    assert 'data-suggest="Notify me if Open Issues &gt; 5" data-send="1"' in unknown

    plan = post_form(ui, "/ui/chat", {"message": "Notify me if Open Issues > 5"})
    token = re.search(r'name="token" value="([^"]+)"', plan.text)
    assert token and "chat-message" not in plan.text  # a draft leaves the box as typed
    saved = post_form(ui, "/ui/chat/confirm", {"token": token.group(1)})
    assert "Created" in saved.text
    box = re.search(
        r'<textarea id="chat-message" [^\n]*? hx-swap-oob="true">([^<]*)</textarea>', saved.text
    )
    assert box and box.group(1) == "", saved.text
    cancelled = post_form(ui, "/ui/chat/cancel", {"token": "x"})
    assert "chat-message" not in cancelled.text  # Cancel keeps the words to edit
