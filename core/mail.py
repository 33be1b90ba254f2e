"""Outgoing mail: SMTP when configured, else a file under ``./var/mail/``.

The embedded profile must work with no mail server, so a missing ``IDNEST_SMTP_HOST``
writes each message as an ``.eml`` file and logs where it went; tests and operators
read confirmation links from there.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from core.settings import get_settings

log = logging.getLogger("idnest.mail")


def mail_dir() -> Path:
    return get_settings().var_dir / "mail"


def _build(to: str, subject: str, body: str) -> EmailMessage:
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@idnest>"
    msg.set_content(body)
    return msg


def _send_smtp(msg: EmailMessage) -> None:
    s = get_settings()
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=15) as smtp:
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
        smtp.send_message(msg)


def _write_file(msg: EmailMessage) -> Path:
    folder = mail_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(msg.as_bytes())
    return path


async def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text message. SMTP runs in a thread so the event loop stays free."""
    msg = _build(to, subject, body)
    if get_settings().smtp_host:
        await asyncio.to_thread(_send_smtp, msg)
        log.info("mail to %s sent: %s", to, subject)
    else:
        path = await asyncio.to_thread(_write_file, msg)
        log.info("no SMTP configured; mail to %s written to %s", to, path)
