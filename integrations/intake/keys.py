"""Creating and rotating inbound API keys. The key is returned once; only its digest
is stored."""

from __future__ import annotations

from integrations.models import Flow, Source
from integrations.secrets import digest, new_api_key


def source_create(*, flow: Flow, name: str, key: str | None = None) -> tuple[Source, str]:
    """Create a source with a new random key (or `key`, e.g. a fixed demo key)."""
    key = key or new_api_key()
    source = Source.objects.create(flow=flow, name=name, key_digest=digest(key), key_hint=key[:8])
    return source, key


def source_rotate_key(*, source: Source) -> str:
    """Replace the source's key; the old one stops working at once."""
    key = new_api_key()
    source.key_digest, source.key_hint = digest(key), key[:8]
    source.save(update_fields=["key_digest", "key_hint"])
    return key
