"""Tracks — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "tracks",
    "/tracks",
    "Tracks",
    "Automated sequences of activities and e-mails that move contacts through the funnel.",
)
