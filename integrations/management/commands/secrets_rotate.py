"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from integrations.secrets import EncryptedTextField, reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column (CRM tokens, API keys) with the first key of "
        "FIELD_ENCRYPTION_KEYS. Rotate a key by putting the new one first, running this, "
        "then removing the old one: until it is removed, old keys still decrypt. "
        "Exits non-zero if any value could not be decrypted with the configured keys "
        "(those are left untouched: do not remove a key then)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted; write nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        rows = values = unreadable = 0
        for model in apps.get_models():
            names = [
                f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
            ]
            if not names:
                continue
            for pk in model._default_manager.values_list("pk", flat=True).iterator():
                changed, bad = _rotate_row(model, pk, names, dry_run=dry_run)
                rows += bool(changed)
                values += changed
                unreadable += bad
        verb = "Would re-encrypt" if dry_run else "Re-encrypted"
        self.stdout.write(
            f"{verb} {values} secrets in {rows} rows with the first key; {unreadable} unreadable."
        )
        if unreadable:
            raise CommandError(f"{unreadable} secrets could not be decrypted with any key.")


def _rotate_row(model, pk, names: list[str], *, dry_run: bool) -> tuple[int, int]:
    """Re-encrypt one row's secrets under its row lock, so that a token refresh holding
    the same lock (integrations.accounts.tokens) cannot be overwritten by a stale value.
    Returns (values re-encrypted, values unreadable)."""
    # Cast to a plain text column: the stored Fernet token, not the decrypted value.
    raw = {f"raw_{name}": Cast(name, output_field=models.TextField()) for name in names}
    with transaction.atomic():
        stored = (
            model._default_manager.select_for_update()
            .filter(pk=pk)
            .annotate(**raw)
            .values(*raw)
            .first()
        )
        if stored is None:  # deleted meanwhile
            return 0, 0
        updates, bad = {}, 0
        for name in names:
            token = stored[f"raw_{name}"]
            if not token:
                continue
            try:
                # A plain-text Value: the field's own get_prep_value would encrypt again.
                updates[name] = models.Value(reencrypt(token), output_field=models.TextField())
            except InvalidToken:
                bad += 1
        if updates and not dry_run:
            model._default_manager.filter(pk=pk).update(**updates)
    return len(updates), bad
