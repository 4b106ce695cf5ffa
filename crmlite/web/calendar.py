"""Calendar — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "calendar",
    "/calendar",
    "Calendar",
    "Your week and month, with every scheduled activity, and "
    "a private calendar feed for Outlook or Google Calendar.",
)
