"""Entry point for `flask` and gunicorn: ``gunicorn wsgi:app``."""

from crmlite import create_app

app = create_app()
