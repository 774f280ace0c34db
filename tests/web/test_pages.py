"""The UI's pages and forms through the ASGI app, on SQLite and PostgreSQL: what a
person sees and what each button changes."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from tests.helpers import opened
from web_support import alert_form, csrf_of, metric_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.orgs import get_or_create_org


def _errors(html: str) -> dict[str, str]:
    found = re.findall(r'<li data-field="([^"]+)"><b>[^<]*</b>: ([^<]*)</li>', html)
    return {field: unescape(message) for field, message in found}


def _metric(ui: TestClient, name: str = "Open Issues", **fields: str) -> str:
    resp = post_form(ui, "/ui/metrics/new", metric_form(name, **fields))
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"]).rsplit("/", 1)[1]


def _alert(ui: TestClient, metric_id: str, **fields: Any) -> str:
    resp = post_form(ui, "/ui/alerts/new", alert_form(metric_id, **fields))
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"]).rsplit("/", 1)[1]


def _push(ui: TestClient, metric_id: str, value: str) -> str:
    resp = post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": value})
    assert resp.status_code == 303, resp.text
    page = ui.get(f"/ui/metrics/{metric_id}").text
    found = re.search(r'class="flash"[^>]*>([^<]*)', page)
    assert found, "no message after the run"
    return found.group(1)


def test_home_sends_to_the_alerts_page(ui: TestClient) -> None:
    resp = ui.get("/", follow_redirects=False)
    assert resp.status_code == 307 and resp.headers["location"] == "/ui/"
    page = ui.get("/ui/")
    assert page.status_code == 200
    assert "No alerts" in page.text and "org <b>default</b>" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "onclick=" not in page.text and "onsubmit=" not in page.text
    lost = ui.get("/ui/no/such/page")
    assert lost.status_code == 404 and "There is no such page" in lost.text


def test_alert_made_through_the_forms_fires_on_a_pushed_value(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(ui, metric_id)
    assert "0 fired" in _push(ui, metric_id, "4")
    assert "1 fired, deliveries: sent" in _push(ui, metric_id, "6")

    page = ui.get(f"/ui/alerts/{alert_id}").text
    assert 'id="badges"><span class="badge triggered"' in page
    assert "Open Issues is above 5" in page
    history = page[page.index('id="history"') :]
    assert history.index("6 &gt; 5; triggered") < history.index("4 &lt;= 5: condition not met")
    assert '<span class="event-tag fired">fired</span>' in history
    deliveries = page[page.index('id="deliveries"') :]
    assert "<td>trigger</td><td>log</td>" in deliveries and "sent" in deliveries

    listing = ui.get("/ui/").text
    row = listing[listing.index('data-alert="Notify if Issues &gt; 5"') :]
    assert 'data-state="triggered"' in row.split("</tr>")[0]
    assert "<polyline points=" in row.split("</tr>")[0]


def test_chart_data_has_the_threshold_and_every_kind_of_event(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(ui, metric_id)
    for value in ("4", "6", "3", "7"):  # fires, resolves, fires again inside the cooldown
        _push(ui, metric_id, value)
    data = ui.get(f"/ui/alerts/{alert_id}/chart.json?range=all").json()
    assert data["value"] == [4, 6, 3, 7]
    assert data["limit"] == [5, 5, 5, 5]
    assert data["fired"] == [None, 6, None, None]
    assert data["resolved"] == [None, None, 3, None]
    assert data["suppressed"] == [None, None, None, 7]
    assert "not sent: cooldown" in data["reason"][3]
    assert data["counts"] == {"fired": 1, "suppressed": 1, "resolved": 1}
    assert data["t"] == sorted(data["t"])

    bad = ui.get(f"/ui/alerts/{alert_id}/chart.json?range=1y")
    assert bad.status_code == 422 and "range" in bad.text


def test_relative_change_chart_follows_the_baseline(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(
        ui,
        metric_id,
        name="Jump",
        condition_type="relative_change",
        change_mode="percent",
        threshold_value="50",
    )
    for value in ("10", "20", "22"):
        _push(ui, metric_id, value)
    data = ui.get(f"/ui/alerts/{alert_id}/chart.json?range=all").json()
    # No baseline for the first run; then the previous run moved by +50 %.
    assert data["limit"] == [None, 15, 30]
    assert data["baseline"] == [None, 10, 20]
    assert data["fired"] == [None, 20, None]
    page = ui.get(f"/ui/alerts/{alert_id}").text
    assert 'data-limit-label="Change limit"' in page


def test_bad_alert_form_names_each_field_and_saves_nothing(ui: TestClient, db: Database) -> None:
    metric_id = _metric(ui)
    form = alert_form(
        metric_id,
        name="",
        threshold_value="five",
        cooldown_seconds="soon",
        action_type=["webhook", ""],
        action_target=["not a url", ""],
    )
    resp = post_form(ui, "/ui/alerts/new", form)
    assert resp.status_code == 422
    errors = _errors(resp.text)
    assert errors["threshold_value"] == "expected a number, got 'five'"
    assert errors["cooldown_seconds"].startswith("expected seconds or a duration")
    assert "name" in errors
    assert 'value="five"' in resp.text  # what was typed is kept for correcting
    with db.connect() as conn:
        org_id = get_or_create_org(conn, "default")
        assert AlertStore(conn, org_id).list_alerts() == []

    missing = post_form(ui, "/ui/alerts/new", alert_form("no such metric"))
    assert _errors(missing.text)["metric_id"] == "expected one of this organisation's metrics"


def test_live_validation_says_what_the_api_would(ui: TestClient) -> None:
    metric_id = _metric(ui)
    bad = post_form(ui, "/ui/alerts/validate", alert_form(metric_id, comparison_op="about"))
    assert bad.status_code == 200
    assert "comparison_op" in _errors(bad.text)
    action = post_form(
        ui,
        "/ui/alerts/validate",
        alert_form(metric_id, action_type=["email", ""], action_target=["", ""]),
    )
    assert "action_config[0]" in _errors(action.text)
    good = post_form(ui, "/ui/alerts/validate", alert_form(metric_id))
    assert "Looks good" in good.text and not _errors(good.text)
    taken = _alert(ui, metric_id)
    assert taken
    dup = post_form(ui, "/ui/alerts/new", alert_form(metric_id))
    assert dup.status_code == 422
    assert _errors(dup.text)["name"] == "an alert with this name already exists"


def test_preview_runs_the_dry_run_and_backtest_before_saving(ui: TestClient) -> None:
    metric_id = _metric(ui)
    empty = post_form(ui, "/ui/alerts/preview", alert_form(metric_id))
    assert "no completed run yet" in empty.text
    for value in ("4", "6", "3", "8"):
        _push(ui, metric_id, value)
    preview = post_form(ui, "/ui/alerts/preview", alert_form(metric_id))
    assert "now 8: it would fire now" in preview.text
    assert "fired once in the last 4 runs" in preview.text  # the hour's cooldown held one
    assert "(the condition held in 2 of them)" in preview.text
    eager = post_form(ui, "/ui/alerts/preview", alert_form(metric_id, cooldown_seconds="0"))
    assert "would have fired 2 times in the last 4 runs" in eager.text
    listing = ui.get("/ui/").text
    assert "No alerts" in listing  # a preview saves nothing


def test_edit_keeps_secrets_it_showed_redacted(ui: TestClient, db: Database) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(
        ui,
        metric_id,
        action_type=["webhook", ""],
        action_target=["https://hooks.example.com/x", ""],
        action_secret=["s3cret-value", ""],
    )
    edit = ui.get(f"/ui/alerts/{alert_id}/edit")
    assert edit.status_code == 200
    assert "s3cret-value" not in edit.text and "***redacted***" in edit.text
    secret = re.search(r'name="action_secret" value="([^"]*)"', edit.text)
    assert secret and secret.group(1) == "***redacted***"
    form = alert_form(
        metric_id,
        threshold_value="9",
        action_type=["webhook", ""],
        action_target=["https://hooks.example.com/x", ""],
        action_secret=[secret.group(1), ""],
    )
    saved = post_form(ui, f"/ui/alerts/{alert_id}/edit", form)
    assert saved.status_code == 303
    with db.connect() as conn:
        org_id = get_or_create_org(conn, "default")
        alert = AlertStore(conn, org_id).get_alert(alert_id)
    assert str(alert.threshold_value) == "9"
    assert isinstance(alert.action_config, dict)
    assert opened(db.url, alert.action_config)["secret"] == "s3cret-value"


def test_buttons_mute_unmute_disable_enable_test_and_delete(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(ui, metric_id)
    page = f"/ui/alerts/{alert_id}"

    assert post_form(ui, f"{page}/mute", {"for": "1d"}).status_code == 303
    shown = ui.get(page).text
    assert 'data-state="muted"' in shown and "Muted for 1d" in shown
    assert ui.get("/ui/?state=muted").text.count("data-alert=") == 1
    assert ui.get("/ui/?state=triggered").text.count("data-alert=") == 0

    bad = post_form(ui, f"{page}/mute", {"for": "forever"})
    assert bad.status_code == 422 and 'id="mute-error"' in bad.text

    post_form(ui, f"{page}/unmute", {})
    assert 'data-state="muted"' not in ui.get(page).text
    post_form(ui, f"{page}/disable", {})
    assert 'data-state="disabled"' in ui.get(page).text
    assert ui.get("/ui/?state=disabled").text.count("data-alert=") == 1
    post_form(ui, f"{page}/enable", {})
    assert 'data-state="disabled"' not in ui.get(page).text

    post_form(ui, f"{page}/test", {})
    shown = ui.get(page).text
    assert "Test sent (log: sent)" in shown and "<td>test</td><td>log</td>" in shown

    gone = post_form(ui, f"{page}/delete", {})
    assert gone.status_code == 303 and gone.headers["location"] == "/ui/"
    assert "and its history" in ui.get("/ui/").text
    assert ui.get(page).status_code == 404


def test_failed_delivery_can_be_retried_from_the_alert_page(ui: TestClient, sink: Any) -> None:
    from tests.channels.channel_support import Reply

    sink.default = Reply(status=400, body="bad")
    metric_id = _metric(ui)
    alert_id = _alert(
        ui, metric_id, action_type=["webhook", ""], action_target=[f"{sink.url}/hook", ""]
    )
    assert "deliveries: failed" in _push(ui, metric_id, "6")
    page = ui.get(f"/ui/alerts/{alert_id}").text
    delivery = re.search(r'action="/ui/deliveries/([0-9a-f-]+)/retry"', page)
    assert delivery and "HTTP 400" in page
    retried = post_form(ui, f"/ui/deliveries/{delivery.group(1)}/retry", {})
    assert retried.status_code == 303
    after = ui.get(f"/ui/alerts/{alert_id}").text
    assert "Queued for another attempt" in after
    assert '<span class="status pending">pending</span>' in after


def test_history_pages_through_older_evaluations(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(ui, metric_id)
    for i in range(55):
        post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": str(i)})
    page = ui.get(f"/ui/alerts/{alert_id}").text
    history = page[page.index('id="history"') : page.index('id="deliveries"')]
    assert history.count("<tr") == 1 + 50 + 1  # header, a page, "older"
    cursor = re.search(r'history\?cursor=([^"]+)"', history)
    assert cursor
    older = ui.get(f"/ui/alerts/{alert_id}/history?cursor={cursor.group(1)}").text
    assert older.count("<tr") == 5 and "Older evaluations" not in older
    assert "&gt;0 &lt;= 5" not in older and "0 &lt;= 5: condition not met" in older


def test_metrics_pages_show_source_schedule_and_last_run(ui: TestClient) -> None:
    _metric(ui, "Queue depth", source="demo", every="30s")
    pushed = _metric(ui, "Signups")
    _push(ui, pushed, "12")
    page = ui.get("/ui/metrics").text
    assert "every 30 s" in page and "Queue depth" in page
    row = page[page.index("Signups") :].split("</tr>")[0]
    assert "completed" in row and "push" in row

    bad = post_form(ui, "/ui/metrics/new", metric_form("X", source="http", url=""))
    assert bad.status_code == 422
    assert _errors(bad.text)  # names the field that is wrong
    every = post_form(ui, "/ui/metrics/new", metric_form("Y", source="demo", every="often"))
    assert "every" in _errors(every.text)

    shown = ui.get(f"/ui/metrics/{pushed}").text
    assert "Record value" in shown and "12" in shown


def test_chat_plans_confirms_and_cancels(ui: TestClient) -> None:
    _metric(ui)
    plan = post_form(ui, "/ui/chat", {"message": "Notify me if Open Issues > 5"})
    assert plan.status_code == 200
    assert "Open Issues is above 5" in plan.text and "Confirm" in plan.text
    token = re.search(r'name="token" value="([^"]+)"', plan.text)
    assert token
    done = post_form(ui, "/ui/chat/confirm", {"token": token.group(1)})
    assert "Created" in done.text
    again = post_form(ui, "/ui/chat/confirm", {"token": token.group(1)})
    assert "expired" in again.text  # one confirmation saves once
    assert ui.get("/ui/").text.count("data-alert=") == 1

    other = post_form(ui, "/ui/chat", {"message": "Notify me if Open Issues < 2"})
    token = re.search(r'name="token" value="([^"]+)"', other.text)
    assert token
    assert "nothing was saved" in post_form(ui, "/ui/chat/cancel", {"token": token.group(1)}).text
    assert ui.get("/ui/").text.count("data-alert=") == 1

    empty = post_form(ui, "/ui/chat", {"message": "  "})
    assert 'role="alert"' in empty.text


def test_live_refresh_fragment_has_only_the_rows(ui: TestClient) -> None:
    metric_id = _metric(ui)
    _alert(ui, metric_id)
    rows = ui.get("/ui/alerts/table?state=&metric=")
    assert rows.status_code == 200
    assert rows.text.count("data-alert=") == 1 and "<html" not in rows.text
    assert 'hx-trigger="every 5s"' in ui.get("/ui/").text


def test_forms_without_the_csrf_token_are_refused(ui: TestClient) -> None:
    metric_id = _metric(ui)
    alert_id = _alert(ui, metric_id)
    for path, data in [
        (f"/ui/alerts/{alert_id}/mute", {"for": "1h"}),
        (f"/ui/alerts/{alert_id}/delete", {}),
        ("/ui/metrics/new", metric_form("Sneaky")),
        ("/ui/chat", {"message": "Notify me if Open Issues > 1"}),
    ]:
        resp = ui.post(path, data=data, follow_redirects=False)
        assert resp.status_code == 403, path
        forged = ui.post(path, data={**data, "csrf_token": "guess"}, follow_redirects=False)
        assert forged.status_code == 403, path
    assert 'data-state="muted"' not in ui.get(f"/ui/alerts/{alert_id}").text
    assert "Sneaky" not in ui.get("/ui/metrics").text
    # The htmx header carries the same token.
    token = csrf_of(ui)
    ok = ui.post(
        f"/ui/alerts/{alert_id}/mute",
        data={"for": "1h"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_a_long_list_pages_and_searches_by_name(ui: TestClient, db: Database) -> None:
    metric_id = _metric(ui)
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        store = AlertStore(conn, org_id)
        for i in range(105):
            store.create_alert(
                {
                    "metric_id": metric_id,
                    "name": f"alert {i:04d}",
                    "comparison_op": "gt",
                    "threshold_value": i,
                    "action_config": {"type": "log"},
                }
            )
    first = ui.get("/ui/").text
    assert first.count("data-alert=") == 100
    assert "1–100 of 105 · page 1 of 2" in first and 'rel="next"' in first
    second = ui.get("/ui/?page=2").text
    assert second.count("data-alert=") == 5 and 'data-alert="alert 0104"' in second
    assert "101–105 of 105" in second and 'rel="prev"' in second
    # The live refresh keeps the page it was on.
    refresh = re.search(r'hx-get="([^"]+)"', second)
    assert refresh and unescape(refresh.group(1)) == "/ui/alerts/table?state=&metric=&q=&page=2"
    assert ui.get("/ui/alerts/table?page=2").text.count("data-alert=") == 5

    found = ui.get("/ui/?q=ALERT 010").text
    assert found.count("data-alert=") == 5 and "pager" not in found
    assert '<small class="muted" id="alert-count">5</small>' in found
    assert ui.get("/ui/?q=%25").text.count("data-alert=") == 0  # "%" is a character
    assert "match these filters" in ui.get("/ui/?q=_x").text
    assert ui.get("/ui/?page=0").status_code == 422


def test_edit_keeps_settings_the_form_does_not_show(ui: TestClient, db: Database) -> None:
    metric_id = _metric(ui)
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric_id,
                "name": "Paged",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": [
                    {"type": "pagerduty", "routing_key": "R0utingKey", "severity": "critical"},
                    {
                        "type": "webhook",
                        "url": "https://hooks.example.com/x",
                        "secret": "s3cret-value",
                        "headers": {"X-Team": "ops"},
                    },
                ],
            }
        )
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    targets = re.findall(r'name="action_target" value="([^"]*)"', edit)
    secrets = re.findall(r'name="action_secret" value="([^"]*)"', edit)
    form = alert_form(
        metric_id,
        name="Paged",
        threshold_value="7",
        action_type=["pagerduty", "webhook", ""],
        action_target=[unescape(targets[0]), targets[1], ""],
        action_secret=["", "", ""],  # the webhook's secret field emptied: remove it
    )
    assert post_form(ui, f"/ui/alerts/{alert.id}/edit", form).status_code == 303
    with db.connect() as conn:
        saved = AlertStore(conn, org_id).get_alert(alert.id)
    paged, hook = opened(db.url, saved.actions)
    assert paged == {"type": "pagerduty", "routing_key": "R0utingKey", "severity": "critical"}
    assert hook["headers"] == {"X-Team": "ops"} and "secret" not in hook
    assert secrets[1] == "***redacted***"
    assert str(saved.threshold_value) == "7"
