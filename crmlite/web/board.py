"""Board — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "board",
    "/board",
    "Board",
    "The funnel board: drag opportunity cards between stages, see each "
    "column's count and value, win, lose and spot stalled deals.",
)
