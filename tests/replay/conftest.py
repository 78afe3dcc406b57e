import pytest
import requests

from integrations.models import Replay
from tests.conftest import wait_until


@pytest.fixture
def sandbox(live_server, sandbox_urls, celery_worker):
    """The Keap sandbox, healthy and empty of faults, and a real worker."""
    requests.post(
        f"{live_server.url}/sandbox/keap/_control/faults", json={"reset": True}, timeout=5
    )
    return live_server


def replay_ended(replay_id: int, *, timeout: float = 60.0) -> Replay:
    def ended():
        replay = Replay.objects.get(pk=replay_id)
        return None if replay.is_active else replay

    return wait_until(ended, timeout=timeout, interval=0.2)
