"""Report delivery against a real SMTP server (aiosmtpd) and a real webhook receiver, both on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from earshot.cli import main
from earshot.config import ConfigError, parse_market
from earshot.delivery import DeliveryFailed, SendError, deliver, with_retries
from earshot.mail import markdown_to_text
from earshot.runs import RunContext
from reports.content import Quote, ReportContent, ThemeView
from reports.render import write_report
from warehouse.connection import writer

RUN_ID = "manual__2026-03-02T06:00:00+00:00"
RUN_AT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TITLE = "Vaultline weekly listening"
LABEL = "Ransomware · immutable <snapshots> & more"
HOOK_PATH = "/services/T000/B000/s3cr3tT0ken"
PASSWORD = "Corr3ct-H0rse-pw"
WRONG_PASSWORD = "wr0ng-Batt3ry-St4ple"

# --- servers -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: keeps every message; ``rcpt`` may script a reply per recipient (None = accept)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.rcpt: Callable[[str], str | None] = lambda address: None
        self.logins: list[tuple[str, str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        refusal = self.rcpt(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"earshot", PASSWORD.encode())
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    def __init__(self, port: int, auth: bool = False, **tls: Any) -> None:
        self.port, self.mailbox = port, Mailbox()
        extra: dict[str, Any] = (
            {"authenticator": self.mailbox.authenticate, "auth_required": True, "auth_require_tls": False}
            if auth
            else {}
        )
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=port, **extra, **tls)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(free_port()) as server:
        yield server


class Receiver:
    """A webhook receiver: answers POSTs with the scripted statuses in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.statuses: list[int] = [200]
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((self.path, dict(self.headers), body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                reply = b"ok" if status == 200 else b"invalid_payload"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}{HOOK_PATH}"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def self_signed(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 that no one trusts unless told to (``SSL_CERT_FILE``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    # TLS checks validity against the real clock, which no test can freeze: valid around whenever it runs.
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "earshot test SMTP")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return cert_path, context


# --- a market, a report --------------------------------------------------------------------------------

BASE = {
    "company": {"name": "Vaultline"},
    "offer": {"summary": "Immutable backups for MSPs"},
    "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
    "sources": [{"id": "blog", "kind": "feed", "audience": "customers", "url": "http://127.0.0.1:9/feed"}],
    "report": {"title": TITLE},
}


def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delivery: dict[str, Any]) -> Path:
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump({**BASE, "delivery": delivery}), encoding="utf-8")
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    for suffix in ("USER", "PASSWORD", "HOST", "PORT"):
        monkeypatch.delenv(f"EARSHOT_SMTP_{suffix}", raising=False)
    return path


def email_block(port: int, recipients: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    block = {
        "recipients": recipients or ["Marketing Lead <lead@vaultline.example>", "ana@vaultline.example"],
        "sender": "earshot <earshot@vaultline.example>",
        "subject": "{title} for {date}",
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5},
    }
    return {**block, **overrides}


def write_a_report(ctx: RunContext) -> tuple[Path, Path, dict[str, Any]]:
    quote = Quote("Our MSP lost a week to ransomware.", "https://forum.example/t/1", "blog", "customers", "ana", RUN_AT)
    theme = ThemeView("t1", LABEL, ["ransomware", "snapshots"], 12, {"customers": 8, "influencers": 4}, [quote], 2)
    content = ReportContent(
        run_id=ctx.run_id, generated_at=ctx.run_at, title=TITLE, company="Vaultline", offer="Immutable backups",
        total_mentions=30, mentions_by_audience={"customers": 20, "influencers": 10}, themes=[theme], unassigned=18,
    )  # fmt: skip
    html, md = write_report(content, ctx.paths.reports)
    summary = {"html": str(html), "markdown": str(md), "themes": 1, "mentions": 30, "top_themes": [LABEL]}
    return html, md, summary


def context() -> RunContext:
    return RunContext.create(run_id=RUN_ID, run_at=RUN_AT)


def rows(home: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with duckdb.connect(str(home / "earshot.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * FROM deliveries ORDER BY channel, target")
        names = [d[0] for d in cursor.description]
        return {(r[1], r[2]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def fingerprint(*paths: Path) -> list[tuple[str, int]]:
    return [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths]


def everything_stored(home: Path) -> str:
    """Every value of every table, as text: a secret must not be anywhere in it."""
    with duckdb.connect(str(home / "earshot.duckdb"), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(str(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


# --- tests ---------------------------------------------------------------------------------------------


def test_settings_are_validated_with_the_field_named() -> None:
    def error(delivery: dict[str, Any]) -> str:
        with pytest.raises(ConfigError) as caught:
            parse_market({**BASE, "delivery": delivery}, Path("market.yaml"))
        return str(caught.value)

    block = email_block(25)
    assert "delivery.email.recipients[1]: 'ana@' is not an e-mail address" in error(
        {"email": {**block, "recipients": ["lead@vaultline.example", "ana@"]}}
    )
    assert "is not an e-mail address" in error({"email": {**block, "recipients": ["a@x.example, b@x.example"]}})
    assert "delivery.email.sender" in error({"email": {**block, "sender": "earshot\nBcc: all@x.example"}})
    assert "listed twice" in error({"email": {**block, "recipients": ["a@x.example", "A <A@x.example>"]}})
    assert "unknown placeholder {when}" in error({"email": {**block, "subject": "{title} {when}"}})
    assert "delivery.email.smtp.security" in error({"email": {**block, "smtp": {"security": "tls"}}})
    secret = error({"webhook": {"url": "hooks.example" + HOOK_PATH}})
    assert "delivery.webhook.url: must be an http(s) URL" in secret and "s3cr3t" not in secret


def test_nothing_configured_is_a_no_op_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan(tmp_path, monkeypatch, {})
    ctx = context()
    html, md, summary = write_a_report(ctx)
    result = deliver(ctx, html, md, summary)
    assert result["configured"] is False and result["sent"] == result["failed"] == 0
    assert "nothing configured" in result["message"]
    assert main(["deliver"]) == 0 and "nothing configured" in capsys.readouterr().out
    assert not (earshot_home / "earshot.duckdb").exists()  # not even a warehouse was opened


def test_mail_and_webhook_are_delivered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, smtp: SmtpServer, receiver: Receiver
) -> None:
    plan(tmp_path, monkeypatch, {"email": email_block(smtp.port), "webhook": {"url": receiver.url}})
    ctx = context()
    html, md, summary = write_a_report(ctx)
    before = fingerprint(html, md)

    result = deliver(ctx, html, md, summary)

    assert (result["sent"], result["failed"], result["already_sent"]) == (3, 0, 0)
    assert sorted(to for _, to, _ in smtp.mailbox.messages) == [["ana@vaultline.example"], ["lead@vaultline.example"]]
    sender, _, message = next(m for m in smtp.mailbox.messages if m[1] == ["lead@vaultline.example"])
    assert sender == "earshot@vaultline.example"
    assert message["Subject"] == f"{TITLE} for 2026-03-02"
    assert message["To"] == "Marketing Lead <lead@vaultline.example>"  # each recipient sees only themself
    alternative = next(part for part in message.walk() if part.get_content_type() == "multipart/alternative")
    plain, rich = alternative.get_payload()
    assert plain.get_content_type() == "text/plain" and rich.get_content_type() == "text/html"
    # text parts travel with CRLF line ends (MIME canonical form); the attachments below are byte-exact
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html.read_text(encoding="utf-8").rstrip("\n")
    assert LABEL in plain.get_content()  # Markdown escapes and entities undone in the plain-text part
    attachments = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert attachments == {"report.html": html.read_bytes(), "report.md": md.read_bytes()}

    (path, headers, _), = receiver.posts  # fmt: skip
    assert path == HOOK_PATH and headers["Content-Type"] == "application/json"
    body = receiver.bodies()[0]
    assert set(body) == {"text", "blocks"} and "30 mentions, 1 themes" in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": f"{TITLE} · 2026-03-02"}
    assert "Ransomware · immutable &lt;snapshots&gt; &amp; more" in body["blocks"][2]["text"]["text"]
    assert str(html) in body["blocks"][3]["elements"][0]["text"]

    stored = rows(earshot_home)
    assert {key: (r["status"], r["attempts"], r["last_error"]) for key, r in stored.items()} == {
        ("email", "ana@vaultline.example"): ("sent", 1, None),
        ("email", "lead@vaultline.example"): ("sent", 1, None),
        ("webhook", stored[next(k for k in stored if k[0] == "webhook")]["target"]): ("sent", 1, None),
    }
    webhook_target = next(k for k in stored if k[0] == "webhook")[1]
    assert webhook_target.startswith("http://127.0.0.1:") and "s3cr3t" not in webhook_target
    assert all(r["sent_at"] is not None and r["first_tried_at"] <= r["sent_at"] for r in stored.values())

    again = deliver(ctx, html, md, summary)  # the stage re-runs (an Airflow clear, a second CLI call)
    assert (again["sent"], again["already_sent"], again["failed"]) == (0, 3, 0)
    assert len(smtp.mailbox.messages) == 2 and len(receiver.posts) == 1
    assert fingerprint(html, md) == before
    assert "s3cr3t" not in everything_stored(earshot_home)


def test_smtp_down_fails_keeps_the_report_and_earshot_deliver_sends_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there yet
    plan(tmp_path, monkeypatch, {"email": email_block(port), "retries": 2, "backoff_seconds": 0.5})
    ctx = context()
    html, md, summary = write_a_report(ctx)
    before = fingerprint(html, md)
    waits: list[float] = []

    with pytest.raises(DeliveryFailed) as caught:
        deliver(ctx, html, md, summary, sleep=waits.append)

    assert caught.value.retryable and caught.value.summary["failed"] == 2
    assert waits == [0.5, 1.0]  # backoff doubles between the three tries
    assert f"email to lead@vaultline.example: cannot connect to 127.0.0.1:{port}" in str(caught.value)
    stored = rows(earshot_home)
    assert {(r["status"], r["attempts"]) for r in stored.values()} == {("failed", 3)}
    assert all("ConnectionRefusedError" in r["last_error"] and r["sent_at"] is None for r in stored.values())
    assert fingerprint(html, md) == before

    with SmtpServer(port) as server:
        assert main(["deliver", RUN_ID]) == 0
    assert "2 sent, 0 sent before, 0 failed" in capsys.readouterr().out
    assert len(server.mailbox.messages) == 2
    assert {(r["status"], r["attempts"]) for r in rows(earshot_home).values()} == {("sent", 4)}
    assert fingerprint(html, md) == before


def test_smtp_temporary_refusal_is_retried_permanent_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, smtp: SmtpServer
) -> None:
    plan(tmp_path, monkeypatch, {"email": email_block(smtp.port), "retries": 3, "backoff_seconds": 0})
    refused: list[str] = []

    def rcpt(address: str) -> str | None:
        refused.append(address)
        if address == "lead@vaultline.example":
            return "550 5.1.1 mailbox unknown"
        return "451 4.3.0 greylisted, try again" if refused.count(address) == 1 else None

    smtp.mailbox.rcpt = rcpt
    ctx = context()
    html, md, summary = write_a_report(ctx)
    with pytest.raises(DeliveryFailed) as caught:
        deliver(ctx, html, md, summary)
    assert not caught.value.retryable  # the one failure left is permanent
    stored = rows(earshot_home)
    assert (
        stored["email", "ana@vaultline.example"]["status"],
        stored["email", "ana@vaultline.example"]["attempts"],
    ) == (
        "sent",
        2,
    )
    lead = stored["email", "lead@vaultline.example"]
    assert (lead["status"], lead["attempts"]) == ("failed", 1)
    assert "refused the recipient (550 5.1.1 mailbox unknown)" in lead["last_error"]
    assert [to for _, to, _ in smtp.mailbox.messages] == [["ana@vaultline.example"]]


def test_webhook_5xx_is_retried_until_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, receiver: Receiver
) -> None:
    plan(tmp_path, monkeypatch, {"webhook": {"url": receiver.url}, "retries": 2, "backoff_seconds": 0})
    receiver.statuses = [500, 200]
    ctx = context()
    html, md, summary = write_a_report(ctx)
    result = deliver(ctx, html, md, summary)
    assert result["sent"] == 1 and len(receiver.posts) == 2
    assert receiver.bodies()[0] == receiver.bodies()[1]
    ((status, attempts),) = {(r["status"], r["attempts"]) for r in rows(earshot_home).values()}
    assert (status, attempts) == ("sent", 2)


def test_webhook_4xx_fails_at_once_without_revealing_the_url(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    earshot_home: Path,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_HOOK", receiver.url)
    plan(tmp_path, monkeypatch, {"webhook": {"url": "${TEST_HOOK}"}, "retries": 3, "backoff_seconds": 0})
    receiver.statuses = [400]
    ctx = context()
    html, md, summary = write_a_report(ctx)
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryFailed) as caught:
        deliver(ctx, html, md, summary)
    assert len(receiver.posts) == 1 and not caught.value.retryable
    message = str(caught.value)
    assert "webhook to http://127.0.0.1:" in message and "rejected with HTTP 400: invalid_payload" in message
    ((status, attempts, error),) = {(r["status"], r["attempts"], r["last_error"]) for r in rows(earshot_home).values()}
    assert (status, attempts) == ("failed", 1) and "HTTP 400" in error
    assert "s3cr3t" not in message + caplog.text + everything_stored(earshot_home)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_fails_with_a_clear_message_and_the_password_nowhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    earshot_home: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from earshot.report import report

    with SmtpServer(free_port(), auth=True) as server:
        plan(tmp_path, monkeypatch, {"email": email_block(server.port, ["lead@vaultline.example"]), "retries": 2})
        monkeypatch.setenv("EARSHOT_SMTP_USER", "earshot")
        monkeypatch.setenv("EARSHOT_SMTP_PASSWORD", WRONG_PASSWORD)
        with writer(earshot_home / "earshot.duckdb"):
            pass  # a warehouse, as the listen stage leaves it
        report(context())  # the real report stage: `earshot deliver` finds it in the runs table
        with caplog.at_level(logging.DEBUG):
            assert main(["deliver"]) == 3  # no RUN_ID: the latest report
        out = capsys.readouterr()
        assert "! email to lead@vaultline.example: authentication failed for user 'earshot'" in out.err
        assert server.mailbox.messages == []
        ((status, attempts, error),) = {
            (r["status"], r["attempts"], r["last_error"]) for r in rows(earshot_home).values()
        }
        assert (status, attempts) == ("failed", 1) and "authentication failed" in error  # no retry: permanent
        stored = everything_stored(earshot_home)
        for where in (out.out, out.err, caplog.text, stored):
            assert WRONG_PASSWORD not in where
        raw = b"".join(p.read_bytes() for p in earshot_home.glob("earshot.duckdb*") if p.is_file())
        assert WRONG_PASSWORD.encode() not in raw

        monkeypatch.setenv("EARSHOT_SMTP_PASSWORD", PASSWORD)  # fixed: the next delivery of the run sends it
        assert main(["deliver", RUN_ID]) == 0
        assert len(server.mailbox.messages) == 1
        assert PASSWORD not in everything_stored(earshot_home) + capsys.readouterr().out


def test_retries_wait_longer_each_round_and_honour_retry_after() -> None:
    tries: list[list[str]] = []
    waits: list[float] = []

    def attempt(pending: list[str]) -> dict[str, SendError | None]:
        tries.append(list(pending))
        if len(tries) == 1:
            return {"a": SendError("busy", transient=True, retry_after=7), "b": None}
        if len(tries) == 2:
            raise SendError("refused", transient=True)
        return {"a": SendError("gone", transient=False)}

    outcomes = with_retries(attempt, ["a", "b"], retries=4, backoff_seconds=1, sleep=waits.append)
    assert tries == [["a", "b"], ["a"], ["a"]] and waits == [7, 2]
    assert (outcomes["a"].status, outcomes["a"].attempts, outcomes["b"].status) == ("failed", 3, "sent")


def test_markdown_becomes_readable_plain_text() -> None:
    markdown = "# Weekly\n\n1\\. Ransomware \\· immutable \\[beta\\] &amp; more: [ana\\_b](https://x.example/t?a=1)"
    assert (
        markdown_to_text(markdown)
        == "# Weekly\n\n1. Ransomware \\· immutable [beta] & more: ana_b <https://x.example/t?a=1>"
    )


CONNECTION = """
from earshot.config import EmailDelivery
from earshot.delivery import SendError
from earshot.mail import smtp_credentials

block = {"recipients": ["a@x.example"], "sender": "e@x.example"}
print(repr(smtp_credentials(EmailDelivery.model_validate({**block, "airflow_conn_id": "smtp_reports"}))))
try:
    smtp_credentials(EmailDelivery.model_validate({**block, "airflow_conn_id": "absent"}))
except SendError as exc:
    print(exc)
"""


def test_smtp_credentials_can_come_from_an_airflow_connection(tmp_path: Path) -> None:
    import os

    conn = {"conn_type": "smtp", "host": "mail.example", "port": 2525, "login": "earshot", "password": PASSWORD}
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW_CONN_SMTP_REPORTS": json.dumps(conn)}
    proc = subprocess.run([sys.executable, "-c", CONNECTION], env=env, capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "SmtpCredentials(host='mail.example', port=2525, user='earshot')"
    assert lines[1] == "Airflow connection 'absent' is not available (AirflowNotFoundException)"
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_is_verified_and_an_untrusted_certificate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path, security: str
) -> None:
    cert, server_tls = self_signed(tmp_path)
    starttls = {"tls_context": server_tls, "require_starttls": True}
    tls = starttls if security == "starttls" else {"ssl_context": server_tls}
    with SmtpServer(free_port(), **tls) as server:
        block = email_block(server.port, ["lead@vaultline.example"])
        plan(tmp_path, monkeypatch, {"email": {**block, "smtp": {**block["smtp"], "security": security}}})
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        ctx = context()
        html, md, summary = write_a_report(ctx)
        with pytest.raises(DeliveryFailed) as caught:
            deliver(ctx, html, md, summary)
        assert f"TLS with 127.0.0.1:{server.port} failed (CERTIFICATE_VERIFY_FAILED)" in str(caught.value)
        assert not caught.value.retryable and server.mailbox.messages == []

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the operator trusts the server's certificate
        assert deliver(ctx, html, md, summary)["sent"] == 1
        assert [to for _, to, _ in server.mailbox.messages] == [["lead@vaultline.example"]]
