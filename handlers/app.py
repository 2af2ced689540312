"""The Application: routes, templates and static files over the services built at start-up.

Built here, in the web layer, so that ``sns`` never imports ``tornado.web``. Nothing
travels in the Tornado settings but ``services`` and Tornado's own keys.
"""

from __future__ import annotations

from pathlib import Path

import tornado.locale
import tornado.web

from handlers import (
    account,
    auth,
    developers,
    images,
    kakao,
    live,
    metrics,
    moderation,
    notifications,
    pages,
    posts,
    profiles,
    safety,
    social,
)
from handlers.api import api_routes
from handlers.headers import StaticHandler
from handlers.metrics import RouteLabels, request_logger
from handlers.page import NotFoundHandler
from handlers.ui import ui_methods
from sns.services import Services

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
LOCALES = ROOT / "locale"


def load_locales() -> None:
    tornado.locale.load_translations(str(LOCALES))
    tornado.locale.set_default_locale("en_US")


def make_app(services: Services) -> tornado.web.Application:
    """The Application serving pages and the API on the given services."""
    load_locales()
    settings = services.settings
    routes = [
        *pages.default_handlers,
        *auth.default_handlers,
        *kakao.default_handlers,
        *images.default_handlers,
        *posts.default_handlers,
        *social.default_handlers,
        *safety.default_handlers,
        *profiles.default_handlers,  # before account's /account/<action>
        *account.default_handlers,
        *metrics.default_handlers,
        *moderation.default_handlers,
        *live.default_handlers,
        *notifications.default_handlers,
    ]
    # -- the API for other sites (#9): /developers, /v1 and /v2, /api/openapi.json, /api/docs
    routes += [*developers.default_handlers, *api_routes(settings)]
    labels = RouteLabels()
    app = tornado.web.Application(
        routes,
        services=services,
        cookie_secret=settings.cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax"},
        login_url="/login",
        template_path=str(TEMPLATES),
        static_path=str(STATIC),
        static_handler_class=StaticHandler,
        ui_methods=ui_methods,
        default_handler_class=NotFoundHandler,
        log_function=request_logger(services.metrics, labels),
        # Live sockets (#20): Tornado's own heartbeat; no answer by the next ping closes one.
        websocket_ping_interval=settings.live_ping,
        websocket_ping_timeout=settings.live_ping,
        debug=settings.debug,
        serve_traceback=settings.debug,
        autoreload=settings.debug,
        compiled_template_cache=not settings.debug,
        static_hash_cache=not settings.debug,
    )
    labels.learn(app)
    return app
