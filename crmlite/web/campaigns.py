"""Campaigns — not built yet; the page says so plainly."""

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "campaigns",
    "/campaigns",
    "Campaigns",
    "Campaigns with their cost, pipeline, won revenue, gross "
    "profit and ROI; e-mail campaigns with tracking.",
)
