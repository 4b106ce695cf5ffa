"""crmlite: a sales CRM for small teams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from crmlite.config import INSTANCE_DIR, PROXY_HEADERS, Config, config_from_environment
from crmlite.extensions import csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    config = config or config_from_environment()
    app.config.from_object(config)
    app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if hops := app.config["TRUSTED_PROXIES"]:
        # Behind that many reverse proxies, the client's address (the rate limits), the scheme
        # (HSTS, links) and the host (checked against TRUSTED_HOSTS by Flask) are the ones
        # the proxies saw: read from the last hops of X-Forwarded-*, never what a client wrote.
        trusted = app.config["TRUSTED_PROXY_HEADERS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, **{f"x_{name}": hops if name in trusted else 0 for name in PROXY_HEADERS}
        )

    import crmlite.models  # noqa: F401  (registers the tables)
    from crmlite.services import next_steps, reactions, stage_history

    next_steps.register()
    stage_history.register()
    reactions.register()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    from crmlite import cli
    from crmlite.web import register_web

    register_web(app)
    cli.register(app)
    return app
