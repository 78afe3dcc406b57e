"""When a delivery's progress is written: each completed operation is saved before the
next CRM call goes out (together with that call's sent mark, when it needs one), and
what the last calls completed is left for the engine to write with the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.crm.base import CrmError
from integrations.crm.operations import Operations


class Recorder:
    def __init__(self) -> None:
        self.saves: list[dict[str, Any]] = []
        self.log: list[str] = []

    def save(self, state: dict[str, Any]) -> None:
        self.saves.append(state)
        self.log.append(f"save {sorted(state['done'])} sent={state['sent']}")

    def call(self, name: str, result: Any = None):
        def run(_sent: bool) -> Any:
            self.log.append(f"call {name}")
            return result

        return run


def test_each_result_is_saved_before_the_next_call_and_the_last_is_left_unsaved():
    rec = Recorder()
    ops = Operations({}, save=rec.save)
    ops.run("company", rec.call("company", 5))
    assert rec.saves == [] and ops.unsaved
    ops.run("note", rec.call("note"), repeatable=False)
    ops.run("tags", rec.call("tags"))
    assert rec.log == [
        "call company",
        "save ['company'] sent=['note']",  # the company, with the note's sent mark
        "call note",
        "save ['company', 'note'] sent=[]",
        "call tags",
    ]
    assert ops.unsaved and sorted(ops.state["done"]) == ["company", "note", "tags"]


def test_a_call_that_fails_leaves_what_completed_before_it_saved():
    rec = Recorder()
    ops = Operations({}, save=rec.save)
    ops.run("contact", rec.call("contact", 1))

    def fails(_sent: bool) -> None:
        raise CrmError("CRM server error (503)", retryable=True, status=503)

    with pytest.raises(CrmError, match="tags: CRM server error"):
        ops.run("tags", fails)
    assert rec.saves == [{"done": {"contact": 1}, "sent": []}]
    assert not ops.unsaved


def test_an_earlier_try_s_results_are_not_saved_again():
    rec = Recorder()
    ops = Operations({"done": {"company": 5}, "sent": []}, save=rec.save)
    assert ops.run("company", rec.call("company", 6)) == 5
    ops.run("tags", rec.call("tags"))
    assert rec.log == ["call tags"] and ops.unsaved
