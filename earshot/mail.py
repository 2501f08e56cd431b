"""The report by e-mail over SMTP: building the message, finding the credentials, and sending it.

Every failure becomes a :class:`~earshot.delivery.SendError` that says whether a retry can help (a refused
connection, a 4xx reply) or not (authentication failed, a 5xx reply), in words a marketing lead can act on.
The password is used for ``AUTH`` only: it is scrubbed from every message, never logged, never stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from pathlib import Path

from earshot.config import EmailDelivery
from earshot.delivery import SendError

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_FAILED_STEP = {"connect": "cannot connect to", "starttls": "STARTTLS failed with", "login": "login failed at"}
_ATTACHMENT_TYPES = {"html": ("html", "report.html"), "markdown": ("markdown", "report.md")}

_MD_LINK = re.compile(r"(?<!\\)\[((?:\\.|[^\[\]\\])*)\]\(([^)\s]+)\)")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-!|~.])")
_MD_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class SmtpCredentials:
    """Where and as whom to log in; any of it may be absent (an open relay needs no login)."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def address(recipient: str) -> str:
    """The bare address of ``Name <name@example.com>``: what a delivery row's target is."""
    return getaddresses([recipient])[0][1]


def smtp_credentials(settings: EmailDelivery, environ: Mapping[str, str] | None = None) -> SmtpCredentials:
    """The Airflow connection ``settings.airflow_conn_id`` (host, port, login, password) when named, else
    ``<credentials_env>_USER`` / ``_PASSWORD`` / ``_HOST`` / ``_PORT`` from the environment.

    Raises:
        SendError: (permanent) the connection is missing, or the variables contradict each other; the
            message names what to set, never a value.
    """
    if settings.airflow_conn_id:
        try:
            from airflow.sdk import BaseHook

            conn = BaseHook.get_connection(settings.airflow_conn_id)
        except Exception as exc:
            detail = f"Airflow connection {settings.airflow_conn_id!r} is not available ({type(exc).__name__})"
            raise SendError(detail, transient=False) from None
        return SmtpCredentials(conn.host or None, conn.port or None, conn.login or None, conn.password or None)
    env = os.environ if environ is None else environ
    prefix = settings.credentials_env
    port_text = env.get(f"{prefix}_PORT") or None
    if port_text is not None and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise SendError(f"{prefix}_PORT must be a port number (1-65535)", transient=False)
    user, password = env.get(f"{prefix}_USER") or None, env.get(f"{prefix}_PASSWORD") or None
    if bool(user) != bool(password):
        have, missing = (f"{prefix}_USER", f"{prefix}_PASSWORD") if user else (f"{prefix}_PASSWORD", f"{prefix}_USER")
        raise SendError(f"{have} is set but {missing} is not; set both to log in, or neither", transient=False)
    return SmtpCredentials(env.get(f"{prefix}_HOST") or None, int(port_text) if port_text else None, user, password)


def markdown_to_text(markdown: str) -> str:
    """The report's Markdown as plain text for the ``text/plain`` alternative: links become ``label <url>``,
    escapes and HTML entities are undone. Headings and tables are left as they are; they read fine."""

    def link(match: re.Match[str]) -> str:
        return f"{match.group(1)} <{match.group(2)}>"

    text = _MD_ESCAPE.sub(r"\1", _MD_LINK.sub(link, markdown))
    for entity, char in _MD_ENTITIES:
        text = text.replace(entity, char)
    return text


def message_id(run_id: str, recipient: str, sender: str) -> str:
    """The same for every try of one report to one recipient, so a mail sent twice (a crash between sending
    and recording it) can be recognised as one by the receiving side."""
    digest = hashlib.sha256(f"{run_id}\0{address(recipient).lower()}".encode()).hexdigest()[:32]
    domain = address(sender).rpartition("@")[2] or "earshot.invalid"
    return f"<earshot.{digest}@{domain}>"


def build_message(
    settings: EmailDelivery,
    *,
    recipient: str,
    subject: str,
    run_id: str,
    html: bytes,
    markdown: bytes,
) -> EmailMessage:
    """multipart/mixed: a multipart/alternative (plain text from the Markdown, then the HTML report as the
    body), followed by the report files as attachments, byte for byte."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = recipient
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(run_id, recipient, settings.sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
    message["X-Earshot-Run"] = run_id
    message.set_content(markdown_to_text(markdown.decode("utf-8", errors="replace")))
    message.add_alternative(html.decode("utf-8", errors="replace"), subtype="html")
    files = {"html": html, "markdown": markdown}
    for kind in settings.attach:
        subtype, filename = _ATTACHMENT_TYPES[kind]
        message.add_attachment(files[kind], maintype="text", subtype=subtype, filename=filename)
    return message


def read_report(path: Path) -> bytes:
    """The report file's bytes; it is only ever read here."""
    return Path(path).read_bytes()


class _Scrubbed:
    """Builds :class:`SendError` s with the password removed from whatever the server or a library said."""

    def __init__(self, credentials: SmtpCredentials) -> None:
        self._secrets = [s for s in (credentials.password,) if s]

    def __call__(self, problem: str, *, transient: bool) -> SendError:
        for secret in self._secrets:
            problem = problem.replace(secret, "***")
        return SendError(problem, transient=transient)


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _transient(code: int) -> bool:
    """4xx replies are temporary by definition; 5xx are not. Anything else (smtplib's -1) is unclear: retry."""
    return not 500 <= code < 600


def send(
    settings: EmailDelivery, credentials: SmtpCredentials, messages: Mapping[str, EmailMessage]
) -> dict[str, SendError | None]:
    """Send each message (keyed by its recipient's address) over one connection.

    Returns:
        Per recipient, ``None`` when the server accepted the message, else why not.

    Raises:
        SendError: connecting, TLS or logging in failed, which concerns every recipient alike.
    """
    error = _Scrubbed(credentials)
    host = credentials.host or settings.smtp.host
    if not host:
        raise error(
            f"no SMTP server: set delivery.email.smtp.host, {settings.credentials_env}_HOST or the Airflow "
            "connection's host",
            transient=False,
        )
    port = credentials.port or settings.smtp.port or _DEFAULT_PORTS[settings.smtp.security]
    server = f"{host}:{port}"
    conn = _open(settings, credentials, host, port, server, error)
    results: dict[str, SendError | None] = {}
    try:
        for recipient, message in messages.items():
            try:
                conn.send_message(message)
                results[recipient] = None
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                results[recipient] = error(
                    f"{server} refused the recipient ({_reply(code, reply)})", transient=_transient(code)
                )
            except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
                results[recipient] = error(
                    f"{server} refused the message ({_reply(exc.smtp_code, exc.smtp_error)})",
                    transient=_transient(exc.smtp_code),
                )
            except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address, no SMTPUTF8 offered
                results[recipient] = error(f"{server} cannot take this message ({exc})", transient=False)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:  # SMTPException is an OSError too
                lost = error(f"connection to {server} lost ({type(exc).__name__})", transient=True)
                results.update({r: lost for r in messages if r not in results})
                break
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.quit()
    return results


def _open(
    settings: EmailDelivery, credentials: SmtpCredentials, host: str, port: int, server: str, error: _Scrubbed
) -> smtplib.SMTP:
    """Connect, secure and log in, or say which of the three failed and whether retrying can help."""
    smtp = settings.smtp
    context = ssl.create_default_context()
    conn: smtplib.SMTP | None = None
    step = "connect"
    try:
        if smtp.security == "ssl":
            conn = smtplib.SMTP_SSL(host, port, timeout=smtp.timeout, context=context)
        else:
            conn = smtplib.SMTP(host, port, timeout=smtp.timeout)
            if smtp.security == "starttls":
                step = "starttls"
                conn.starttls(context=context)
        if credentials.user:
            step = "login"
            if smtp.security == "none" and host not in {"localhost", "127.0.0.1", "::1"}:
                log.warning("delivery: logging in to %s without TLS sends the password in clear text", server)
            conn.login(credentials.user, credentials.password or "")
        return conn
    except smtplib.SMTPAuthenticationError as exc:
        _close(conn)
        said = _reply(exc.smtp_code, exc.smtp_error)
        problem = f"authentication failed for user {credentials.user!r} at {server} ({said}); check user and password"
        raise error(problem, transient=_transient(exc.smtp_code)) from None
    except smtplib.SMTPNotSupportedError:
        _close(conn)
        what = "STARTTLS" if step == "starttls" else "AUTH"
        hint = " (many servers offer AUTH only after STARTTLS)" if what == "AUTH" and smtp.security == "none" else ""
        raise error(
            f"{server} does not offer {what}{hint}; check delivery.email.smtp.security", transient=False
        ) from None
    except ssl.SSLError as exc:
        _close(conn)
        raise error(f"TLS with {server} failed ({exc.reason or type(exc).__name__})", transient=False) from None
    except smtplib.SMTPResponseException as exc:
        _close(conn)
        raise error(
            f"{server} refused to {step} ({_reply(exc.smtp_code, exc.smtp_error)})", transient=_transient(exc.smtp_code)
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused, unreachable, timed out, name not resolved
        _close(conn)
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise error(f"{_FAILED_STEP[step]} {server} ({reason})", transient=True) from None


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.close()
