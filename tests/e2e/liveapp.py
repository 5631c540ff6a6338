"""The application as the end-to-end server runs it: `gunicorn 'tests.e2e.liveapp:create()'`.

Production settings (no debug, no TESTING) except what a browser test on plain http needs;
the database, secret and cookie flags come from the environment set by tests/e2e/conftest.py.
"""

import logging

from portal import create_app


def create():
    """Build the app with a cheap argon2 cost and no cached figures (each test empties the db)."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app({"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                       "SUMMARY_CACHE_SECONDS": 0})
