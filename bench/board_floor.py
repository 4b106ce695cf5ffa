"""The floor the board is measured against: a minimal Flask + SQLAlchemy + Jinja page that
shows 300 cards from the same database (name, company, amount, owner, a link), with no
sign-in, no filters, no next steps and no layout. Whatever the board costs above this is
crmlite's own; issue #16 asks for at most 1.3 × this floor.

``floor_app(url)`` is the page; ``bench.board`` times it beside the board in the same run.
"""

from __future__ import annotations

from flask import Flask, render_template_string
from sqlalchemy import create_engine, text

CARDS = 300

# The same facts as a board card (name, company, amount, owner, days in the stage, the next
# step's day, the data attributes a drag needs, the actions menu), with no rule behind them.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Board</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>Board</h1><ol class="board-cards">
{% for card in cards %}
<li class="board-card" id="card-{{ card.id }}" data-stage-id="{{ card.stage_id }}"
 data-version="{{ card.version }}" data-move-url="/board/opportunities/{{ card.id }}/move">
<a class="card-title" href="/opportunities/{{ card.id }}">{{ card.name }}</a>
<p class="card-company">{{ card.company or "" }}</p>
<p class="card-facts"><b>{{ "{:,.2f}".format(card.revenue) }}</b>
<abbr title="{{ card.owner or "" }}">{{ (card.owner or "-")[:1] }}</abbr></p>
<p class="card-next"><b>Next</b> {{ card.first_open_activity_on or "" }}</p>
<details class="card-menu"><summary aria-label="Actions">⋯</summary></details>
</li>
{% endfor %}</ol></main></body></html>
"""

QUERY = text(
    """
    SELECT o.id, o.name, o.version, o.stage_id, o.revenue, o.first_open_activity_on,
           c.name AS company, m.name AS owner
    FROM opportunities o
    LEFT JOIN companies c ON c.id = o.company_id
    LEFT JOIN members m ON m.id = o.account_manager_id
    ORDER BY o.id
    LIMIT :limit
    """
)


def floor_app(url: str) -> Flask:
    app = Flask(__name__)
    engine = create_engine(url)

    @app.get("/")
    def page() -> str:
        with engine.connect() as conn:
            cards = conn.execute(QUERY, {"limit": CARDS}).all()
        return render_template_string(PAGE, cards=cards)

    app.extensions["floor_engine"] = engine
    return app
