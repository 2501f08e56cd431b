"""The report's summary to a Slack-compatible incoming webhook: ``{"text": ..., "blocks": [...]}``.

A webhook URL is a secret (Slack's path is its token), so it is never logged, stored or put in an error:
deliveries name it by :func:`target`, the host with the path hidden and a short fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from earshot.delivery import SendError

_HEADER_MAX = 150  # Slack's limit for a header block's plain text
_SECTION_MAX = 3000  # ... and for a section's text
_BODY_SHOWN = 200  # characters of a receiver's error reply kept in the message


def target(url: str) -> str:
    """``https://hooks.example.com/… #1a2b3c4d``: tells two webhooks apart without revealing either."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    netloc = f"{host}:{parts.port}" if parts.port else host
    fingerprint = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{parts.scheme}://{netloc}/… #{fingerprint}"


def _mrkdwn(text: object) -> str:
    """Slack's three control characters escaped: report text came from the web and must stay inert."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload(summary: dict[str, Any], *, title: str, date: str, link: str, run_id: str) -> dict[str, Any]:
    """The message: title, counts, top themes and where the report is, as fallback text and as blocks."""
    mentions, themes = summary.get("mentions"), summary.get("themes")
    top = [str(label) for label in summary.get("top_themes") or []]
    counts = f"{mentions if mentions is not None else '?'} mentions, {themes if themes is not None else '?'} themes"
    is_web = link.startswith(("http://", "https://"))
    where = f"<{link}|Open the report>" if is_web else f"Report: `{_mrkdwn(link)}`"
    fields = [
        {"type": "mrkdwn", "text": f"*Mentions*\n{_mrkdwn(mentions if mentions is not None else '?')}"},
        {"type": "mrkdwn", "text": f"*Themes*\n{_mrkdwn(themes if themes is not None else '?')}"},
    ]
    by_audience = summary.get("mentions_by_audience") or {}
    fields += [{"type": "mrkdwn", "text": f"*{_mrkdwn(name)}*\n{_mrkdwn(n)}"} for name, n in by_audience.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"{title} · {date}", _HEADER_MAX)}},
        {"type": "section", "fields": fields[:10]},  # Slack allows ten fields per section
    ]
    if top:
        lines = "\n".join(f"{rank}. {_mrkdwn(label)}" for rank, label in enumerate(top, 1))
        section = _cut(f"*Top themes*\n{lines}", _SECTION_MAX)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{where} · run `{_mrkdwn(run_id)}`"}]})
    text = f"{title} · {date}: {counts}." + (f" Top theme: {top[0]}." if top else "") + f" {link}"
    return {"text": _mrkdwn(text), "blocks": blocks}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a GET elsewhere: report it instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post(url: str, body: dict[str, Any], timeout: float, user_agent: str) -> None:
    """POST the message once. Uses the standard library rather than httpx on purpose: httpx logs every
    request's URL at INFO, which would put the webhook's secret into task logs.

    Raises:
        SendError: transient for timeouts, refused connections, 408, 429 (with its Retry-After) and 5xx;
            permanent for other 4xx (a wrong or revoked URL, a rejected payload) and redirects.
    """
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": user_agent}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 (http(s) only)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return
    except urllib.error.HTTPError as exc:
        status, said, retry_after = exc.code, _said(exc, url), exc.headers.get("Retry-After")
    except TimeoutError:
        raise SendError(f"no answer within {timeout:g}s", transient=True) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise SendError(f"no answer within {timeout:g}s", transient=True) from None
        raise SendError(f"cannot connect ({type(reason).__name__})", transient=True) from None
    except OSError as exc:  # reset mid-answer, truncated reply
        raise SendError(f"connection failed ({type(exc).__name__})", transient=True) from None
    problem = f"HTTP {status}" + (f": {said}" if said else "")
    if status in (408, 429) or status >= 500:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        raise SendError(f"receiver answered {problem}", transient=True, retry_after=wait)
    if 300 <= status < 400:
        raise SendError(f"redirected ({problem}); set delivery.webhook.url to the final address", transient=False)
    raise SendError(f"rejected with {problem}; check delivery.webhook.url and the receiver", transient=False)


def _said(error: urllib.error.HTTPError, url: str) -> str:
    """The start of the receiver's error reply (Slack's says why: ``invalid_payload``), the URL cut out."""
    try:
        text = error.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " ".join(text.replace(url, "…").split())[:_BODY_SHOWN]
