"""Sign-up, login and logout (POST only: every state change carries the XSRF token)."""

from __future__ import annotations

from handlers.base import BaseHandler
from sns.errors import ServiceError, TooManyRequests


class AuthJoinHandler(BaseHandler):
    """POST /auth/join: create the account, log it in, go to the timeline."""

    async def post(self) -> None:
        if self.current_user:
            self.redirect("/")
            return
        form = {
            "email": self.get_argument("email", ""),
            "nick": self.get_argument("nick", ""),
        }
        try:
            user = await self.services.accounts.join(
                form["email"], form["nick"], self.get_argument("password", "")
            )
        except ServiceError as exc:
            self.set_status(exc.status)
            self.render("join.html", form=form, error=self.tr(exc), field=exc.field)
            return
        await self.start_session(user)
        self.redirect("/")


class AuthLoginHandler(BaseHandler):
    """POST /auth/login: check the credentials, rotate the session id, go back."""

    async def post(self) -> None:
        email = self.get_argument("email", "")
        next_url = self.get_argument("next", "/")
        try:
            user = await self.services.accounts.authenticate(
                email, self.get_argument("password", ""), self.client_ip
            )
        except ServiceError as exc:
            self.set_status(exc.status)
            if isinstance(exc, TooManyRequests):
                self.set_header("Retry-After", str(exc.retry_after))
            self.render("login.html", email=email, error=self.tr(exc), next_url=next_url)
            return
        await self.start_session(user)
        self.redirect_to_next()


class AuthLogoutHandler(BaseHandler):
    """POST /auth/logout: delete the session record and the cookie."""

    async def post(self) -> None:
        await self.end_session()
        self.redirect("/")


default_handlers = [
    (r"/auth/join", AuthJoinHandler),
    (r"/auth/login", AuthLoginHandler),
    (r"/auth/logout", AuthLogoutHandler),
]
