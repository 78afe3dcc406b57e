"""The outbox sweep every CHAOS_SWEEP_SECONDS (default 5 s), as the beat runs it, for
the chaos run. A broker that is down (the run restarts its Redis) is logged and tried
again next round."""

from __future__ import annotations

import os
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()
    from django.db import close_old_connections

    from integrations.delivery.sweeper import delivery_sweep

    while True:
        try:
            swept = delivery_sweep()
            if swept:
                print(f"swept {len(swept)}", flush=True)
        except Exception as exc:  # noqa: BLE001 - the run restarts Redis on purpose
            print(f"sweep failed: {exc.__class__.__name__}", flush=True)
            close_old_connections()
        time.sleep(float(os.environ.get("CHAOS_SWEEP_SECONDS", "5")))


if __name__ == "__main__":
    main()
