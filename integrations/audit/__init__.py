"""The audit log: configuration changes, replays, erasures and reconnects, with who
and when (integrations.models.AuditEntry)."""
