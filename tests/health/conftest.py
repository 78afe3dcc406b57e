import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def admin_client(client):
    """A client logged in as a superuser (the health pages' and history lists' admin)."""
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "long-pass-123")
    client.force_login(user)
    return client
