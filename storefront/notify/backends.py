"""How a rendered notice leaves the building: SMTP, the console, or an SMS provider.

Each backend's `send` returns the status to record ('sent' when a server accepted the
message, 'logged' when it was only written to the console) and raises on failure; the
Notifier turns a raise into a retry. None of them puts a credential in a log line, an
exception message or a repr.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
import sys
from email.message import EmailMessage as MimeMessage
from typing import Protocol, TextIO
from urllib.parse import unquote, urlsplit

log = logging.getLogger("storefront.notify")



class EmailBackend(Protocol):
    def send(self, mime: MimeMessage) -> str: ...


class SmsBackend(Protocol):
    """An SMS/알림톡 provider adapter: send `text` to the phone number `to`."""

    def send(self, to: str, text: str) -> str: ...


class SmtpConfigError(RuntimeError):
    """SMTP_URL cannot be used as given (message never includes the password)."""


class SmtpEmailBackend:
    """Real SMTP from an URL: smtp:// (STARTTLS whenever offered) or smtps:// (implicit TLS).

    Credentials come from the URL's user:password (percent-decoded). They are only sent over
    TLS, or to a server on this machine (a local relay or a test server).
    """

    def __init__(self, url: str, *, timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpConfigError("SMTP_URL: must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"SmtpEmailBackend({scheme}://{self.host}:{self.port})"

    def send(self, mime: MimeMessage) -> str:
        context = self._ssl_context or ssl.create_default_context()
        if self.implicit_tls:
            server: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with server:
            server.ehlo()
            secure = self.implicit_tls
            if not secure and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
                secure = True
            if self._username:
                if not secure and not _is_loopback(self.host):
                    raise SmtpConfigError(f"{self.host} offers no TLS; refusing to send the SMTP password in clear")
                server.login(self._username, self._password)
            server.send_message(mime)
        return "sent"


class ConsoleEmailBackend:
    """Development stand-in for SMTP: prints the message (headers and plain-text body)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, mime: MimeMessage) -> str:
        body = mime.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        block = (
            "----- email (SMTP_URL not set; not sent) -----\n"
            f"From: {mime['From']}\nTo: {mime['To']}\nSubject: {mime['Subject']}\n\n{text}"
            "----- end of email -----\n"
        )
        (self._stream or sys.stdout).write(block)
        log.info("email logged to console (SMTP_URL not set): to=%s subject=%s", mime["To"], mime["Subject"])
        return "logged"


class ConsoleSmsBackend:
    """The default SMS backend: prints the text. Swap in a provider adapter for real SMS."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, to: str, text: str) -> str:
        (self._stream or sys.stdout).write(f"----- SMS to {to} (no SMS provider; not sent) -----\n{text}\n")
        log.info("SMS logged to console (no SMS provider): to=%s", to)
        return "logged"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
