"""Sign-up, login and logout (POST only: every state change carries the XSRF token)."""

from __future__ import annotations

from handlers.page import PageHandler
from sns.errors import ServiceError
from sns.floods import SIGNUPS


class AuthJoinHandler(PageHandler):
    """POST /auth/join: create the account, log it in, go to the timeline."""

    async def post(self) -> None:
        if self.current_user:
            self.redirect("/")
            return
        form = {
            "email": self.get_argument("email", ""),
            "nick": self.get_argument("nick", ""),
            "handle": self.get_argument("handle", ""),
        }
        try:
            async with self.floods.hold(SIGNUPS, self.client_ip) as place:
                user = await self.accounts.join(
                    form["email"],
                    form["nick"],
                    self.get_argument("password", ""),
                    form["handle"],
                )
        except ServiceError as exc:
            await self.refuse(exc, "join.html", form=form)
            return
        self.set_rate_headers(place)
        await self.start_session(user)
        self.redirect("/")


class AuthLoginHandler(PageHandler):
    """POST /auth/login: check the credentials, rotate the session id, go back."""

    async def post(self) -> None:
        form = {"email": self.get_argument("email", "")}
        try:
            user = await self.accounts.authenticate(
                form["email"], self.get_argument("password", ""), self.client_ip
            )
        except ServiceError as exc:
            await self.refuse(exc, "login.html", form=form, next_url=self.get_argument("next", "/"))
            return
        await self.start_session(user)
        self.redirect_to_next()


class AuthLogoutHandler(PageHandler):
    """POST /auth/logout: delete the session record and the cookie."""

    async def post(self) -> None:
        await self.end_session()
        self.redirect("/")


default_handlers = [
    (r"/auth/join", AuthJoinHandler),
    (r"/auth/login", AuthLoginHandler),
    (r"/auth/logout", AuthLogoutHandler),
]
