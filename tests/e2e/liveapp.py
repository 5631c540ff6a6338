"""The application as the end-to-end server runs it, and the gunicorn hooks of that server.

`gunicorn -c python:tests.e2e.liveapp 'tests.e2e.liveapp:create()'`: production settings (no
debug, no TESTING) except what a browser test on plain http needs; the database, secret and
cookie flags come from the environment set by tests/e2e/conftest.py.
"""

import logging
import os
import signal
import threading
import time

from portal import create_app


def create():
    """Build the app with a cheap argon2 cost. The cache is the Redis the test process shares
    (its writes and cleaning make the server's pages stale); without Redis each worker would
    keep its own, which the test process cannot reach: then nothing is cached."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shared = {} if os.environ.get("REDIS_URL") else {"CACHE_TYPE": "NullCache"}
    base = {"BASE_URL": os.environ.get("BASE_URL") or "http://127.0.0.1"}  # served on 127.0.0.1
    return create_app({"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, **base, **shared})


def when_ready(server):
    """Gunicorn hook: stop when pytest is gone (killed by a timeout), instead of lingering."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
