"""Admin areas, one module each. Thin: display and forms here, logic in services."""

from . import accounts, flows, health, leads, steps  # noqa: F401  (registers the model admins)
