"""Personal data does not live for ever: the retention purge (after RETENTION_DAYS)
and "erase this person" (on request)."""
