"""Entry point for `flask` and gunicorn: ``gunicorn wsgi:app``."""

import gc

from crmlite import create_app

app = create_app()

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's full passes, which otherwise pause a request now and then.
gc.collect()
gc.freeze()
