"""The one way out to a CRM: a pooled requests session with timeouts, and a record
of every call (redacted) for the delivery's attempts.

Every outbound call goes through CrmSession.request, which
- applies the connect/read timeouts from settings,
- turns transport failures into a retryable CrmError,
- records method, URL, headers, bodies, status and duration with secrets redacted,
- asks its gate (the account's rate limiter, integrations.delivery.ratelimit) before
  every call and shows it every answer, so every HTTP call counts against the quota,
- runs its `before_send` hook last before each call goes out.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .base import CallGate, CrmError

REDACTED = "[redacted]"
SECRET_HEADERS = {"authorization", "x-keap-api-key", "cookie", "set-cookie", "x-api-key"}
SECRET_KEYS = {
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "api_key",
    "apikey",
    "password",
    "privatekey",
    "key",
}
MAX_BODY_CHARS = 20_000
# A JSON member named as a secret, as it reads in the text unless its name is written
# with \u escapes (such a body is always parsed).
_SECRET_JSON_KEY = re.compile(
    r'"(?:' + "|".join(sorted(SECRET_KEYS, key=len, reverse=True)) + r')"\s*:', re.I
)
# XML-RPC's first parameter is the legacy key: <param><value><string>KEY</string>...
_XMLRPC_KEY = re.compile(
    r"(<params>\s*<param>\s*<value>\s*(?:<string>)?)(.*?)((?:</string>)?\s*</value>)", re.S
)

_local = threading.local()


def shared_session() -> requests.Session:
    """One pooled session per thread (requests.Session is not thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "LeadFlow/0.1"
        # requests reads the proxy and CA-bundle variables from the environment on every
        # call (a scan of os.environ, ~1 ms per call); read them once per session instead.
        session.trust_env = False
        session.proxies = urllib.request.getproxies()
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE", True
        )
        _local.session = session
    return session


def _prepare(
    session: requests.Session, method: str, url: str, kwargs: dict[str, Any]
) -> requests.PreparedRequest:
    """Session.prepare_request without the cookie jars: the session is shared by every
    account of every CRM, so no CRM call should carry cookies another call was given,
    and the jars are most of prepare_request's cost. The session's headers are merged
    as requests merges them (the request's win, whatever their case), and each part is
    prepared by requests' own PreparedRequest steps, in its order; the URL's and the
    headers' preparation, the same for the same input, is kept per process (a delivery
    calls the same few URLs with the same headers again and again)."""
    headers, params = kwargs.pop("headers", None) or {}, kwargs.pop("params", None)
    prepared = requests.PreparedRequest()
    prepared.prepare_method(method)
    prepared.url = _prepared_url(url, params)
    prepared.headers = _prepared_headers(session.headers, headers).copy()
    prepared.prepare_body(
        kwargs.pop("data", None), kwargs.pop("files", None), kwargs.pop("json", None)
    )
    auth = kwargs.pop("auth", None)
    if auth is not None or "@" in prepared.url:  # requests takes credentials from a URL
        prepared.prepare_auth(auth, url)
    prepared.prepare_hooks(None)
    if kwargs:
        raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
    return prepared


def _prepared_url(url: str, params: Any) -> str:
    key = tuple(params.items()) if isinstance(params, Mapping) else params
    try:
        return _url_of(url, key)
    except TypeError:  # unhashable parameters (a list of values): not kept
        return _url_of.__wrapped__(url, params)


@lru_cache(maxsize=1024)
def _url_of(url: str, params: Any) -> str:
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, params)
    return str(prepared.url)


def _prepared_headers(
    session_headers: Mapping[str, Any], headers: Mapping[str, Any]
) -> CaseInsensitiveDict[Any]:
    return _headers_of(tuple(session_headers.items()), tuple(headers.items()))


@lru_cache(maxsize=256)
def _headers_of(
    session_headers: tuple[tuple[str, Any], ...], headers: tuple[tuple[str, Any], ...]
) -> CaseInsensitiveDict[Any]:
    """The merged, checked headers (never handed out: callers copy them)."""
    merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(session_headers)
    merged.update(headers)
    prepared = requests.PreparedRequest()
    prepared.prepare_headers(merged)
    return prepared.headers


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, REDACTED if k.lower() in SECRET_KEYS else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).lower() in SECRET_KEYS else _redact_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_body(body: str | bytes | None, content_type: str = "") -> str:
    """Remove secrets from a request or response body (JSON, form or XML-RPC)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        if _SECRET_JSON_KEY.search(text) or "\\u" in text:  # else kept as it came
            try:
                text = json.dumps(_redact_json(json.loads(text)))
            except ValueError:
                pass
    elif stripped.startswith("<"):
        text = _XMLRPC_KEY.sub(lambda m: m.group(1) + REDACTED + m.group(3), text, count=1)
    elif "=" in text and "form" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode([(k, REDACTED if k.lower() in SECRET_KEYS else v) for k, v in pairs])
    return text[:MAX_BODY_CHARS]


@dataclass
class CallRecord:
    """One HTTP call, redacted, ready to be stored as an Attempt."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status_code: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    error: str = ""
    duration_ms: int = 0
    started_at: float = 0.0


class CrmSession:
    """Per-delivery wrapper around the shared session that records each call."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] | None = None,
        secrets: tuple[str, ...] = (),
        gate: CallGate | None = None,
        before_send: Callable[[], None] | None = None,
    ):
        self.timeout = timeout or (settings.CRM_CONNECT_TIMEOUT, settings.CRM_READ_TIMEOUT)
        self.calls: list[CallRecord] = []
        self.gate = gate
        # Run just before each request goes out, after the gate and the request's
        # preparation: the delivery's saved progress is waited for there (it may raise).
        self.before_send = before_send
        # Exact secret strings (tokens, keys) scrubbed from anything recorded.
        self._secrets = tuple(s for s in secrets if s)

    def scrub_also(self, *secrets: str) -> None:
        """Scrub more secrets (e.g. tokens refreshed mid-delivery) from later records."""
        self._secrets += tuple(s for s in secrets if s and s not in self._secrets)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request. Raises CrmError (retryable) on timeouts and connection errors,
        and Throttled when the gate has no slot soon enough or the CRM answered 429;
        returns the response for any other HTTP status: interpreting it is the caller's job.
        """
        timeout = kwargs.pop("timeout", self.timeout)
        session = shared_session()
        prepared: requests.PreparedRequest | None = None

        def prepare() -> None:
            nonlocal prepared
            prepared = _prepare(session, method, url, kwargs)
            if self.before_send is not None:
                self.before_send()

        if self.gate is not None:
            self.gate.before_call(meanwhile=prepare)  # prepared while the limiter decides
        else:
            prepare()
        assert prepared is not None
        record = CallRecord(
            method=method.upper(),
            url=self._scrub(redact_url(prepared.url or url)),
            request_headers=redact_headers(dict(prepared.headers)),
            request_body=self._scrub(
                redact_body(prepared.body, prepared.headers.get("Content-Type", ""))
            ),
            started_at=time.time(),
        )
        self.calls.append(record)
        started = time.perf_counter()
        try:
            response = session.send(prepared, timeout=timeout, allow_redirects=False)
        except requests.ConnectTimeout as exc:  # never connected: nothing was sent
            record.error = "timeout"
            raise CrmError("CRM timed out", retryable=True) from exc
        except requests.Timeout as exc:
            record.error = "timeout"
            raise CrmError(
                "CRM timed out", retryable=True, retry_after=in_flight_seconds(timeout)
            ) from exc
        except requests.ConnectionError as exc:
            record.error = "connection failed"
            raise CrmError(
                "could not connect to CRM", retryable=True, retry_after=in_flight_seconds(timeout)
            ) from exc
        except requests.RequestException as exc:
            record.error = "request failed"
            raise CrmError("request to CRM failed", retryable=True) from exc
        finally:
            record.duration_ms = int((time.perf_counter() - started) * 1000)
        record.status_code = response.status_code
        record.response_headers = redact_headers(dict(response.headers))
        record.response_body = self._scrub(
            redact_body(response.content, response.headers.get("Content-Type", ""))
        )
        if self.gate is not None:
            self.gate.after_call(status=response.status_code, headers=response.headers)
        return response

    @property
    def total_ms(self) -> int:
        return sum(c.duration_ms for c in self.calls)


def in_flight_seconds(timeout: float | tuple[float, float] | None) -> float:
    """How long to leave a request that got no answer (a read timeout, a dropped
    connection) before trying again: the CRM may still be working on it, and a retry's
    look-before-create must see what it did. A server that holds a request past the
    client's read timeout is given as long again, twice over (a create answered after
    1.5 s to a client that gave up at 1 s was seen doubled by a retry 0.3 s later)."""
    read = timeout[1] if isinstance(timeout, tuple) else timeout
    return 2 * float(read if read is not None else settings.CRM_READ_TIMEOUT)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After in seconds, when the CRM sent one (Keap and HighLevel usually don't)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def json_or_empty(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
