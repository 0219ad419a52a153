"""The Learning Journals web application."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config
from app.flask_app import LearningJournalsFlask
from app.security.client_address import ValidClientAddress


def create_app(config: Config | None = None) -> Flask:
    """Build the app: config, extensions, tenancy, blueprints, CLI, error pages, and the
    one transaction per request."""
    config = config or Config()
    app = LearningJournalsFlask(__name__)
    app.config.from_mapping(config.flask_settings())
    if config.PROXY_HOPS:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            ValidClientAddress(app.wsgi_app),
            x_for=config.PROXY_HOPS,
            x_proto=config.PROXY_HOPS,
            x_host=config.PROXY_HOPS,
        )

    from app.auth.access import login_manager, signed_in_can
    from app.auth.sessions import RedisSessionInterface, refuse_without_session_store
    from app.database import install_connection_checks
    from app.extensions import csrf, db
    from app.navigation import main_nav
    from app.redis_store import init_redis
    from app.security.csrf_tokens import install_kept_csrf_tokens
    from app.security.rate_limits import install_rate_limits

    db.init_app(app)
    install_connection_checks(app)
    csrf.init_app(app)
    install_kept_csrf_tokens(app)
    init_redis(app)
    app.session_interface = RedisSessionInterface(app)
    login_manager.init_app(app)
    app.add_template_global(signed_in_can, "can")  # templates ask the access policy
    app.add_template_global(main_nav, "main_nav")  # base.html: made once per role, section
    install_rate_limits(app)

    from workers.celery_app import celery_init_app

    celery_init_app(app)

    from app.auth.first_manager import prepare_first_manager
    from app.responsible_use.operations import publish_default_usage_policy
    from tenants.provisioning import install_setting_seeds
    from tenants.routing import install_routing

    install_routing(app)
    install_setting_seeds(app, (prepare_first_manager, publish_default_usage_policy))
    # Straight after routing, before CSRF and rate limits, which need Redis too.
    app.before_request_funcs[None].insert(1, refuse_without_session_store)

    from app.ops.logs import configure_logging, install_request_logging
    from app.ops.metrics import install_request_metrics

    configure_logging(config)
    install_request_logging(app)  # first of all: even a refused request has an id
    install_request_metrics(app)

    from app.input_guard import install_input_guard

    install_input_guard(app)

    from app.auth.factor_views import bp as factors_bp
    from app.auth.views import bp as auth_bp
    from app.branding.views import bp as branding_bp
    from app.home.views import bp as home_bp
    from app.journal.views import bp as journal_bp
    from app.ops.views import bp as ops_bp
    from app.people.views import bp as people_bp
    from app.responsible_use.views import bp as responsible_use_bp
    from app.retention.views import bp as retention_bp

    blueprints = (
        home_bp,
        auth_bp,
        factors_bp,
        people_bp,
        journal_bp,
        branding_bp,
        ops_bp,
        responsible_use_bp,
        retention_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    # Browsers ask for /favicon.ico on every page load: a rule of the static endpoint, so
    # it is served as the stylesheet is (any host, no session, no sign-in).
    app.add_url_rule(
        "/favicon.ico",
        endpoint="static",
        view_func=app.view_functions["static"],
        defaults={"filename": "favicon.ico"},
    )

    from app.auth.pending import install_pending_steps
    from app.auth.shared_computer import install_shared_computer_protection

    install_pending_steps(app)
    install_shared_computer_protection(app)

    from tenants.cli import tenants_cli

    app.cli.add_command(tenants_cli)

    from workers.cli import jobs_cli

    app.cli.add_command(jobs_cli)

    from app.backups.cli import backups_cli

    app.cli.add_command(backups_cli)

    from app.errors import register_error_pages
    from app.security.headers import install_security_headers
    from app.security.same_origin import install_same_origin_check
    from app.timezones import register_time_filters

    register_time_filters(app)
    register_error_pages(app)
    install_security_headers(app)
    install_same_origin_check(app)

    from app.request_transaction import install_request_transaction

    install_request_transaction(app)  # last: its after-request step runs first
    return app
