"""Replaying deliveries: one, the selected ones, or every failure matching a filter,
released to the outbox in the background at a share of each account's rate."""
