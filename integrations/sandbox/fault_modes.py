"""Fault behaviours both sandboxes share, on top of their own error bodies.

A fault armed through a sandbox's `_control/faults` may, besides its `status` and
`latency_ms`, carry:

  jitter_ms    0..jitter_ms more latency, drawn per request
  probability  0..1: each matching request is faulted with this chance (default 1);
               with a large `count`, a sandbox that fails at random
  drop         the connection breaks mid-answer (the client reads a truncated body
               and a closed socket: requests raises ChunkedEncodingError or
               ConnectionError)
  malformed    200 with a body cut short (unparseable JSON or XML)
  created      the request is processed first, and only then does the fault answer:
               with `status` ("created, but answered 5xx", HighLevel's known "422
               and still creates the contact"), `drop`, `malformed`, or — with
               `latency_ms` past the client's timeout — a hang after the write

Faults that are not `created` answer before the request is processed: nothing is
written. These are test and demo switches, off unless armed.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

MAX_LATENCY_MS = 120_000
KEYS = ("jitter_ms", "probability", "drop", "malformed", "created")


class FaultModeError(ValueError):
    """A fault spec whose shared keys are not valid."""


def checked(spec: dict[str, Any]) -> dict[str, Any]:
    """The shared keys of a fault spec, validated, with their defaults."""
    jitter = spec.get("jitter_ms", 0)
    if isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= MAX_LATENCY_MS:
        raise FaultModeError(f"jitter_ms must be 0..{MAX_LATENCY_MS}")
    probability = spec.get("probability", 1)
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise FaultModeError("probability must be a number between 0 and 1")
    if not 0 < probability <= 1:
        raise FaultModeError("probability must be a number between 0 and 1")
    modes = {key: spec.get(key, False) for key in ("drop", "malformed", "created")}
    if not all(isinstance(v, bool) for v in modes.values()):
        raise FaultModeError("drop, malformed and created are true or false")
    if modes["drop"] and modes["malformed"]:
        raise FaultModeError("a fault drops the connection or sends a malformed body, not both")
    return {"jitter_ms": jitter, "probability": float(probability), **modes}


def has_effect(rule: dict[str, Any]) -> bool:
    """Whether a rule does anything: an answer, a delay, or a broken connection/body."""
    return bool(
        rule.get("status")
        or rule.get("latency_ms")
        or rule.get("jitter_ms")
        or rule.get("drop")
        or rule.get("malformed")
    )


def strikes(rule: dict[str, Any]) -> bool:
    """Whether this request is one the rule faults (its `probability`)."""
    probability = rule.get("probability", 1)
    return probability >= 1 or random.random() < probability


def wait(rule: dict[str, Any]) -> None:
    """Sleep for the rule's latency plus jitter."""
    delay_ms = (rule.get("latency_ms") or 0) + random.randint(0, rule.get("jitter_ms") or 0)
    if delay_ms:
        time.sleep(delay_ms / 1000)


def dropped(request: HttpRequest, body: bytes = b"") -> HttpResponseBase:
    """An answer whose connection breaks part way: Content-Length promises the whole
    body, half of it is sent, and the socket is shut. Needs the development server
    (runserver, the test live server), whose socket is reachable from the request;
    elsewhere the answer just stops short and the client waits for the rest."""
    partial = body[: len(body) // 2] or b'{"'
    sock = _socket_of(request)

    def stream() -> Iterator[bytes]:
        yield partial
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    response = StreamingHttpResponse(stream(), status=200, content_type="application/json")
    response["Content-Length"] = str(len(partial) + 512)
    return response


def _socket_of(request: HttpRequest) -> socket.socket | None:
    """The client socket under the WSGI input stream (LimitedStream -> BufferedReader
    -> SocketIO -> socket), when the server exposes it."""
    stream: Any = request.META.get("wsgi.input")
    for attr in ("stream", "raw", "_sock"):
        if isinstance(stream, socket.socket):
            return stream
        stream = getattr(stream, attr, stream)
    return stream if isinstance(stream, socket.socket) else None


def malformed(body: bytes, content_type: str) -> HttpResponse:
    """A 200 whose body is cut short, so it does not parse."""
    cut = body[: max(1, len(body) // 2)] if body else b'{"id": '
    return HttpResponse(cut, status=200, content_type=content_type)


def play(
    request: HttpRequest,
    rule: dict[str, Any],
    view: Callable[[], HttpResponse],
    error: Callable[[int, dict[str, Any]], HttpResponse],
    *,
    content_type: str = "application/json",
) -> HttpResponseBase:
    """Answer one request under `rule`: wait, then answer with the fault, or let it
    through; a `created` rule processes the request first (see the module docstring).
    `error(status, rule)` builds the sandbox's own error body for a status."""
    real: HttpResponse | None = None
    if rule.get("created"):
        real = view()
    wait(rule)
    if rule.get("drop"):
        return dropped(request, real.content if real is not None else b"")
    if rule.get("malformed"):
        return malformed(real.content if real is not None else b"", content_type)
    if rule.get("status"):
        return error(int(rule["status"]), rule)
    return real if real is not None else view()
