"""How a rendered notice leaves the building: SMTP, the console, or an SMS provider.

Each backend's `send` returns the status to record ('sent' when a server accepted the
message, 'logged' when it was only written to the console) and raises on failure; the
Notifier turns a raise into a retry. None of them puts a credential in a log line, an
exception message or a repr.

SMTP separates two kinds of failure. Before the message is handed over (connect, TLS, AUTH,
MAIL, RCPT, or a 4xx/5xx answer to it) the server certainly does not have it. When the
connection dies during DATA, after the message went out and before the server's answer
(the "lost 250"), the server may have it: `send` raises `OutcomeUnknown`. The rule for both
(storefront/notify/notifier.py) is the same: send again, with the same Message-ID.
"""

from __future__ import annotations

import contextlib
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


class OutcomeUnknown(RuntimeError):
    """The connection was lost after the message was handed to the server and before its answer."""


class _NotesData:
    """Remembers that DATA began: from then on, a lost connection may follow a delivered message."""

    in_data = False

    def data(self, msg):  # smtplib.SMTP.data
        self.in_data = True
        return super().data(msg)


class _SMTP(_NotesData, smtplib.SMTP):
    pass


class _SMTP_SSL(_NotesData, smtplib.SMTP_SSL):
    pass


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
        context = self._context()
        if self.implicit_tls:
            server: smtplib.SMTP = _SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            server = _SMTP(self.host, self.port, timeout=self.timeout)
        try:
            self._session(server, context, mime)
        except smtplib.SMTPResponseException:
            raise  # the server answered: it does not have the message
        except OSError as exc:  # SMTPServerDisconnected, a reset, a timeout
            if getattr(server, "in_data", False):
                raise OutcomeUnknown(
                    f"connection lost after the message was sent, before the server's answer ({type(exc).__name__})"
                ) from exc
            raise
        finally:
            server.close()
        return "sent"

    def _context(self) -> ssl.SSLContext:
        """The TLS context, made once: loading the system's CA certificates costs ~25 ms of CPU, every message."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()  # two threads racing here both get a good one
        return self._ssl_context

    def _session(self, server: smtplib.SMTP, context: ssl.SSLContext, mime: MimeMessage) -> None:
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
        with contextlib.suppress(smtplib.SMTPException, OSError):  # accepted: how QUIT goes changes nothing
            server.quit()


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
