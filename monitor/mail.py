"""SMTP for the digest and the alerts: one-line header text, address checks, the connection.

Both senders go through here, so the `[smtp]` settings (host, port, security, login) mean the same
for a digest and an alert, and a failure reads the same: `describe()` turns an SMTP or socket error
into one line that says what to check. What is digest-specific (the send ledger and its claims, the
multipart message) stays in `monitor.digest.send`; what is alert-specific in `monitor.watch.alerts`.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

from monitor.config.settings import Settings
from monitor.errors import ConfigError, UsageError

SECURITY = ("none", "starttls", "tls")

_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")


def one_line(text: str, limit: int | None = None) -> str:
    """Collapse line breaks, Unicode separators and control characters into single spaces (safe in a
    mail header); with `limit`, cut to that many characters, the last one an ellipsis."""
    text = re.sub(r"\s+", " ", _HEADER_UNSAFE.sub(" ", text)).strip()
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def check_address(value: str, where: str = "recipient") -> str:
    """A bare address (local@domain) from a config value or --to; anything odd is refused, not cleaned."""
    if value != one_line(value) or not value.strip():
        raise UsageError(f"{where} {value!r}: an address must be one line without control characters")
    _name, addr = parseaddr(value.strip())
    if not addr or addr.count("@") != 1 or any(c in addr for c in " <>,;\""):
        raise UsageError(f"{where} {value!r}: not an e-mail address (expected name@example.org)")
    local, domain = addr.split("@")
    if not local or not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9.:A-Fa-f]+\]", domain):
        raise UsageError(f"{where} {value!r}: not an e-mail address (expected name@example.org)")
    return addr


def describe(exc: BaseException, settings: Settings) -> str:
    """One line saying what went wrong talking to the `[smtp]` server, and what to check."""
    where = f"{settings.smtp.host}:{settings.smtp.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}" for code, resp in exc.recipients.values())
        return f"{where} refused the recipient: {codes}"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{where} answered {exc.smtp_code} {one_line(detail)}"
    if isinstance(exc, socket.timeout | TimeoutError) or isinstance(exc.__context__, socket.timeout | TimeoutError):
        return f"{where} did not answer within {settings.smtp.timeout_s:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS failed ({exc.reason or exc}); check [smtp] security and port"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where} refused the connection; check [smtp] host and port"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{where} closed the connection ({one_line(str(exc)) or 'no reason given'})"
    return f"{where}: {one_line(str(exc)) or type(exc).__name__}"


def connect(settings: Settings) -> smtplib.SMTP:
    """An open, greeted (and, per `[smtp]`, encrypted and logged-in) connection; the caller closes it."""
    s = settings.smtp
    if s.security not in SECURITY:
        raise ConfigError(f"[smtp] security {s.security!r}: use one of {', '.join(SECURITY)}")
    if s.user and not settings.smtp_password:
        raise ConfigError("[smtp] user is set but MONITOR_SMTP_PASSWORD is not; set it in the environment")
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if s.security == "tls":
        smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
    try:
        smtp.ehlo()
        if s.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if s.user:
            smtp.login(s.user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


class Session:
    """One SMTP connection opened on first use; after a connection failure every later send fails
    with the same error without another attempt (one unreachable server costs one timeout, not N)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        self.down: str | None = None

    def send(self, msg: EmailMessage, sender: str, addr: str) -> str | None:
        """Send one message; None when accepted, else why not."""
        if self.down:
            return self.down
        try:
            if self.smtp is None:
                self.smtp = connect(self.settings)
        except (OSError, smtplib.SMTPException) as exc:
            self.down = describe(exc, self.settings)
            return self.down
        try:
            self.smtp.send_message(msg, from_addr=sender, to_addrs=[addr])
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()
            return describe(exc, self.settings)
        return None

    def _reset(self) -> None:
        """A refused message leaves the session usable; a dead connection is reopened on next use."""
        assert self.smtp is not None
        try:
            self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()
