"""Dashboard — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "dashboard",
    "/dashboard",
    "Dashboard",
    "Quota attainment by member, location and business unit; forecast and funnel health.",
)
