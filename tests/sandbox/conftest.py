import pytest


@pytest.fixture(autouse=True)
def _fresh_highlevel_sandbox():
    """The HighLevel sandbox keeps faults, counters and rate windows in the cache:
    each test starts and ends with none."""
    from integrations.sandbox.highlevel import faults

    faults.reset()
    yield
    faults.reset()
