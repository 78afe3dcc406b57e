"""Admin areas, one module each. Thin: display and forms here, logic in services."""

from . import accounts, audit, flows, leads, replay, replay_jobs  # noqa: F401  (registers the model admins)
