"""A delivery as a short plan of CRM operations, and the record of those that completed.

A recipient runs each CRM operation of a delivery (find or save the contact, the
company, the note, the tags, each sequence or workflow) through `Operations.run`,
under a key that names it. The result of each completed operation is handed to
`save` before the next network call (together with the next operation's sent mark,
when it needs one), and the engine persists it on the delivery, outside any
transaction. The results of the last operations, which no further call follows, are
left `unsaved` for the caller to persist with the delivery's outcome (one write
instead of two). A retry (or another worker after a crash) starts from that record:
completed operations are not called again, so no successful call is made twice, and
the contact found or created by an earlier try is kept.

Operations that must not be repeated blindly (a plain create, a note) are marked as
*sent* before their call and the mark is saved too. A later try then knows that the
CRM may already have done it (a timeout, a dropped connection, a 5xx after the write,
a worker killed mid-call) and looks before it writes; without the mark it needs no
look-up at all.

Errors raised by a follow-up operation carry the part that failed in their reason
("tags: tag id not found"), plus the contact id and duplicate flag, so an outcome
recorded after the contact exists still says which contact it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .base import CrmError, Throttled

T = TypeVar("T")
CONTACT = "contact"
# Answers that say the CRM did not process the request at all: the gateway rejected it
# before the application saw it (throttling, credentials). A sent mark is cleared.
_NOT_PROCESSED = frozenset({401, 403, 429})


@dataclass(frozen=True)
class SavedContact:
    """The contact a delivery created or matched: its CRM id, and whether it existed
    before (None: the CRM did not say)."""

    id: str
    duplicate: bool | None = None


class Operations:
    """The completed operations of one delivery (see the module docstring).

    `state` is what an earlier try saved (`{"done": {key: result}, "sent": [key]}`);
    `save(state)` persists the state before every call that follows a change. A save
    may finish later: `settle()` waits for the last one (and may raise CrmError to stop
    the delivery, e.g. when the worker lost its lease); the CRM session calls it just
    before a call goes out, and every operation's call has settled when it returns or
    raises. What changed after the last call is `unsaved`, for the caller to persist
    with the outcome. `assume_sent` makes every operation look possibly sent: for
    callers that keep no record between tries.
    """

    def __init__(
        self,
        state: Mapping[str, Any] | None = None,
        *,
        save: Callable[[dict[str, Any]], None] | None = None,
        settle: Callable[[], None] | None = None,
        assume_sent: bool = False,
    ) -> None:
        state = state or {}
        done = state.get("done")
        sent = state.get("sent")
        self._done: dict[str, Any] = dict(done) if isinstance(done, dict) else {}
        self._sent: list[str] = [str(k) for k in sent] if isinstance(sent, list) else []
        self._save, self._settle = save, settle
        self._assume_sent = assume_sent
        self._unsaved = False
        self.calls_skipped = 0  # operations an earlier try completed (for tests and benches)

    @property
    def state(self) -> dict[str, Any]:
        return {"done": dict(self._done), "sent": list(self._sent)}

    @property
    def unsaved(self) -> bool:
        """Whether `state` holds results not handed to `save` yet (those of the last
        operations: the caller persists them with the delivery's outcome)."""
        return self._unsaved

    def is_done(self, key: str) -> bool:
        return key in self._done

    def may_have_been_sent(self, key: str) -> bool:
        """Whether an earlier try of this operation may have reached the CRM."""
        return self._assume_sent or key in self._sent

    @property
    def contact(self) -> SavedContact | None:
        saved = self._done.get(CONTACT)
        if not isinstance(saved, dict):
            return None
        duplicate = saved.get("duplicate")
        known = duplicate if isinstance(duplicate, bool) else None
        return SavedContact(str(saved.get("id", "")), known)

    def save_contact(
        self, call: Callable[[bool], SavedContact], *, repeatable: bool
    ) -> SavedContact:
        """Run the contact operation once: `call(may_have_been_sent)` creates or updates
        the contact. Its errors keep their own reason (they are the delivery's)."""
        saved = self.contact
        if saved is not None:
            self.calls_skipped += 1
            return saved
        result = self._call(CONTACT, call, repeatable=repeatable, part="")
        self._complete(CONTACT, {"id": result.id, "duplicate": result.duplicate})
        return result

    def run(
        self,
        key: str,
        call: Callable[[bool], T],
        *,
        repeatable: bool = True,
        encode: Callable[[T], Any] = lambda value: value,
        decode: Callable[[Any], T] | None = None,
    ) -> T:
        """Run operation `key` once: `call(may_have_been_sent)`, unless an earlier try
        completed it (then its saved result, through `decode`). `repeatable=False`
        saves a sent mark first. The part of the key before ":" names the operation in
        the reason of any CrmError it raises ("sequence:45/1" -> "sequence: ...")."""
        if key in self._done:
            self.calls_skipped += 1
            saved = self._done[key]
            return decode(saved) if decode else saved
        result = self._call(key, call, repeatable=repeatable, part=key.split(":", 1)[0])
        self._complete(key, encode(result))
        return result

    def _call(self, key: str, call: Callable[[bool], T], *, repeatable: bool, part: str) -> T:
        may_have_been_sent = self.may_have_been_sent(key)
        if not repeatable and key not in self._sent:
            self._sent.append(key)
            self._persist()
        elif self._unsaved:
            self._persist()  # the earlier results, before this call may go out
        try:
            return call(may_have_been_sent)
        except CrmError as exc:
            if exc.status in _NOT_PROCESSED and key in self._sent and not may_have_been_sent:
                self._sent.remove(key)
                self._persist()
            self._name(exc, part)
            raise
        except Throttled:
            # The limiter held the call back, or the gateway answered 429: not sent.
            if key in self._sent and not may_have_been_sent:
                self._sent.remove(key)
                self._persist()
            raise
        finally:
            self.settle()  # nothing of this operation's is left unanswered

    def settle(self) -> None:
        """Wait for the last save to finish (see the class); raises what it raised."""
        if self._settle is not None:
            self._settle()

    def _complete(self, key: str, result: Any) -> None:
        # Saved before the next call (see _call), or by the caller with the outcome.
        self._done[key] = result
        if key in self._sent:
            self._sent.remove(key)
        self._unsaved = True

    def _persist(self) -> None:
        if self._save is not None:
            self._save(self.state)
        self._unsaved = False

    def _name(self, exc: CrmError, part: str) -> None:
        """Put the failing part in the error's reason, and attach the contact."""
        if part and not exc.reason.startswith(part):  # "workflow not found" says it already
            exc.reason = f"{part}: {exc.reason}"
            exc.args = (exc.reason,)
        saved = self.contact
        if saved is not None:
            exc.contact_id = exc.contact_id or saved.id
            if exc.duplicate is None:
                exc.duplicate = saved.duplicate


__all__ = ["CONTACT", "Operations", "SavedContact"]
