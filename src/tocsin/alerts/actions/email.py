"""``{"type": "email", "to": "a@example.com" | ["a@example.com", ...]}`` over SMTP.

The server comes from ``TOCSIN_SMTP_*`` (port 465 means implicit TLS; otherwise
``TOCSIN_SMTP_STARTTLS`` upgrades the connection). Each message has a plain-text body and
an HTML alternative, and a Message-ID derived from the delivery's idempotency key so
mail clients fold a retried duplicate into one.

Uses stdlib smtplib in a worker thread: one short SMTP conversation per notification
does not justify another dependency.
"""

from __future__ import annotations

import asyncio
import html
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

from pydantic import Field, field_validator

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    DeliveryFailed,
    Notification,
    NotificationKind,
    SendResult,
    format_value,
    kind_label,
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})*$")
_MAX_RECIPIENTS = 50


class EmailConfig(ActionModel):
    type: Literal["email"] = "email"
    to: list[str] = Field(min_length=1, max_length=_MAX_RECIPIENTS)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for addr in value:
            if not _ADDRESS.match(addr) or ".." in addr:
                raise ValueError("expected e-mail addresses like alice@example.com")
        return list(dict.fromkeys(value))


def subject(n: Notification) -> str:
    name = " ".join(f"{n.alert_name}{n.series}".split())
    return f"[Tocsin] {kind_label(n.kind)}: {name}"


def _rows(n: Notification) -> list[tuple[str, str]]:
    rows = [("Metric", n.metric_name)]
    if n.labels:
        rows.append(("Series", n.series))
    rows.append(("Value", format_value(n.value)))
    if n.baseline_value is not None:
        rows.append(("Baseline", format_value(n.baseline_value)))
    rows += [
        ("Condition", n.condition),
        ("State", n.state),
        ("Reason", n.reason),
        ("Evaluated at", n.evaluated_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    return rows


# Per kind, the sentence that opens the mail (a template filled with the quoted alert
# name and the reason). A failure notice says why in its first line, since the reason
# (the source's own error text) is what the reader acts on.
_INTROS: dict[NotificationKind, str] = {
    "trigger": "Alert {name} fired.",
    "resolve": "Alert {name} resolved: its condition no longer holds.",
    "test": "This is a test notification for alert {name}; no action needed.",
    "no_data": "Alert {name} has no data: {reason}",
    "error": "Alert {name} cannot read its metric: {reason}",
    "recovered": "Alert {name} recovered: its metric is readable again.",
}


def _intro(n: Notification) -> str:
    return _INTROS[n.kind].format(name=repr(n.alert_name), reason=n.reason or "no reason given")


def text_body(n: Notification) -> str:
    lines = [_intro(n), ""] + [f"{k}: {v}" for k, v in _rows(n)]
    if n.link:
        lines += ["", f"View the alert: {n.link}"]
    return "\n".join(lines) + "\n"


def html_body(n: Notification) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(k)}</th><td>{e(v)}</td></tr>'
        for k, v in _rows(n)
    )
    link = f'<p><a href="{e(n.link)}">View the alert</a></p>' if n.link else ""
    return (
        f"<html><body><p><strong>{e(kind_label(n.kind))}</strong>: {e(_intro(n))}</p>"
        f"<table>{rows}</table>{link}</body></html>"
    )


def build_message(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(n)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9._-]', '-', n.idempotency_key)}@tocsin>"
    msg.set_content(text_body(n))
    msg.add_alternative(html_body(n), subtype="html")
    return msg


def _smtp_failure(code: int, what: str, detail: bytes | str) -> DeliveryFailed:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else detail
    text = " ".join(text.split())[:200]
    # SMTP 4xx replies mean "try again later"; 5xx are final.
    return DeliveryFailed(
        f"SMTP {what} failed: {code} {text}".rstrip(),
        transient=400 <= code < 500,
        status=code,
    )


class EmailChannel(Channel[EmailConfig]):
    type = "email"
    Config = EmailConfig

    async def send(self, notification: Notification) -> SendResult:
        msg = build_message(notification, self.settings.smtp_from, self.config.to)
        refused = await asyncio.to_thread(self._send_sync, msg)
        accepted = len(self.config.to) - len(refused)
        detail = f"sent to {accepted} recipient(s)"
        if refused:
            detail += "; refused: " + ", ".join(
                f"{addr} ({code})" for addr, (code, _) in refused.items()
            )
        return SendResult(status_code=250, detail=detail)

    def _send_sync(self, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        timeout = s.http_timeout_seconds
        try:
            smtp: smtplib.SMTP
            if s.smtp_port == 465:
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
            with smtp:
                if s.smtp_starttls and s.smtp_port != 465:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    smtp.login(s.smtp_username, password)
                return smtp.send_message(msg, from_addr=s.smtp_from, to_addrs=self.config.to)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return_all = ", ".join(f"{a} ({c})" for a, (c, _) in exc.recipients.items())
            raise DeliveryFailed(
                f"SMTP server refused every recipient: {return_all}",
                transient=all(400 <= c < 500 for c in codes),
                status=max(codes, default=None),
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(
                f"SMTP login to {where} failed ({exc.smtp_code}): check "
                "TOCSIN_SMTP_USERNAME and TOCSIN_SMTP_PASSWORD",
                transient=False,
                status=exc.smtp_code,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed(
                f"SMTP server {where} does not support STARTTLS or AUTH as configured",
                transient=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure(exc.smtp_code, f"delivery via {where}", exc.smtp_error) from None
        except ssl.SSLCertVerificationError:
            raise DeliveryFailed(
                f"TLS certificate of SMTP server {where} could not be verified",
                transient=False,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise DeliveryFailed(
                f"SMTP connection to {where} failed: {reason}", transient=True
            ) from None
