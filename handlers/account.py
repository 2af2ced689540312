"""Account settings: nickname, password, and deleting the account."""

from __future__ import annotations

from handlers.base import BaseHandler, login_required
from sns.errors import ServiceError


class AccountPageHandler(BaseHandler):
    """GET /account: the settings page."""

    @login_required
    async def get(self) -> None:
        self.render(
            "account.html",
            error=None,
            field=None,
            notice=self.get_argument("done", ""),
            has_password=await self.services.accounts.has_password(self.viewer_id),
        )


class AccountActionHandler(BaseHandler):
    """POST /account/nick, /account/password, /account/delete."""

    @login_required
    async def post(self, action: str) -> None:
        accounts = self.services.accounts
        try:
            if action == "nick":
                await accounts.change_nick(self.viewer_id, self.get_argument("nick", ""))
            elif action == "password":
                await accounts.change_password(
                    self.viewer_id,
                    self.get_argument("current", ""),
                    self.get_argument("new", ""),
                )
                # Every other session of this account ends; this one carries on, renewed.
                await self.start_session(await accounts.get(self.viewer_id))
            else:
                await accounts.delete_account(
                    self.viewer_id,
                    self.get_argument("password", ""),
                    self.get_argument("confirmation", ""),
                )
                await self.end_session()
                self.redirect("/?deleted=1")
                return
        except ServiceError as exc:
            if self.wants_json():
                raise
            self.set_status(exc.status)
            self.render(
                "account.html",
                error=self.tr(exc),
                field=exc.field,
                notice="",
                has_password=await accounts.has_password(self.viewer_id),
            )
            return
        self.redirect(f"/account?done={action}")


default_handlers = [
    (r"/account", AccountPageHandler),
    (r"/account/(nick|password|delete)", AccountActionHandler),
]
