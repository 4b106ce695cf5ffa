"""Points — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "points",
    "/points",
    "Points",
    "Points earned per member and month against the quota, with a printable summary.",
)
