"""Make sure Debian's Chromium is there for the browser tests (installs it when missing
and we may: root with apt-get). Playwright's own browser download cannot work here."""

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.path.exists(CHROMIUM):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("chromium missing and cannot be installed: browser tests will be skipped")
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing chromium for the browser tests ...")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"],
        check=False,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
