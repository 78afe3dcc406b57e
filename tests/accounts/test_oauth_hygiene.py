"""Importing the OAuth module changes nothing global: the libraries' secret-logging
loggers are held at INFO by settings.LOGGING, and oauthlib's plain-http allowance is
on only while one of our vetted calls runs."""

import logging
import os
import subprocess
import sys
import threading

from integrations.accounts import oauth
from tests.factories import ROOT

INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"


def test_the_oauth_libraries_never_log_below_info_whatever_the_log_level():
    for name in ("oauthlib", "requests_oauthlib"):
        assert logging.getLogger(name).level == logging.INFO


def test_importing_the_module_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k != INSECURE}
    probe = (
        "import os, django; django.setup(); import integrations.accounts.oauth;"
        f" print(os.environ.get({INSECURE!r}, 'unset'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "unset", out.stderr[-2000:]


def test_plain_http_is_allowed_to_oauthlib_only_during_a_vetted_call(monkeypatch):
    monkeypatch.delenv(INSECURE, raising=False)
    inside, release = threading.Event(), threading.Event()

    def other_call():
        with oauth._transport_vetted():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_call)
    thread.start()
    inside.wait(5)
    with oauth._transport_vetted():
        assert os.environ[INSECURE] == "1"
    assert os.environ[INSECURE] == "1"  # the other thread's call is still running
    release.set()
    thread.join(5)
    assert INSECURE not in os.environ


def test_a_value_set_outside_the_app_is_kept(monkeypatch):
    monkeypatch.setenv(INSECURE, "yes")
    with oauth._transport_vetted():
        pass
    assert os.environ[INSECURE] == "yes"
