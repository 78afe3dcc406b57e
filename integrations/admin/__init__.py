"""Admin areas, one module each. Thin: display and forms here, logic in services."""

from . import (  # noqa: F401  (registers the model admins)
    accounts,
    audit,
    flows,
    health,
    leads,
    replay,
    replay_jobs,
    steps,
)
