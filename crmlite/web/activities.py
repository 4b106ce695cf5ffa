"""Activities — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "activities",
    "/activities",
    "Activities",
    "Log and schedule activities in place, close them "
    "in one click and always schedule the next step.",
)
