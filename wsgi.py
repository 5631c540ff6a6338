"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi run`."""

import gc

from dotenv import load_dotenv

load_dotenv()

from portal import create_app  # noqa: E402

app = create_app()
# Everything loaded so far (modules, templates, the app) lives as long as the worker: kept out
# of the garbage collector's full passes, which would otherwise walk it again and again.
gc.freeze()
