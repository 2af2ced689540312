"""Account settings: nickname, handle, password, and deleting the account."""

from __future__ import annotations

from handlers.base import login_required
from handlers.page import PageHandler
from sns.errors import Invalid, ServiceError


class AccountPageHandler(PageHandler):
    """GET /account: the settings page."""

    @login_required
    async def get(self) -> None:
        await self.render_page(
            "account.html",
            notice=self.get_argument("done", ""),
            has_password=await self.accounts.has_password(self.user.id),
            muted_words=await self.safety.words(self.user.id),
        )


class AccountActionHandler(PageHandler):
    """POST /account/nick, /account/handle, /account/password, /account/delete; any other
    action is a 400."""

    @login_required
    async def post(self, action: str) -> None:
        me = self.user.id
        form = {"handle": self.get_argument("handle", "")} if action == "handle" else {}
        try:
            if action == "nick":
                await self.accounts.change_nick(me, self.get_argument("nick", ""))
            elif action == "handle":
                await self.accounts.change_handle(me, form["handle"])
            elif action == "password":
                await self.accounts.change_password(
                    me, self.get_argument("current", ""), self.get_argument("new", "")
                )
                # Every other session of this account ends; this one carries on, renewed.
                renewed = await self.accounts.get(me)
                if renewed is not None:
                    await self.start_session(renewed)
            elif action == "delete":
                await self.accounts.delete_account(
                    me, self.get_argument("password", ""), self.get_argument("confirmation", "")
                )
                await self.images.remove_all_of(me)
                await self.profiles.remove_all_of(me)
                await self.end_session()
                self.redirect("/?deleted=1")
                return
            else:
                raise Invalid("There is no such action.")
        except ServiceError as exc:
            await self.refuse(
                exc,
                "account.html",
                notice="",
                has_password=await self.accounts.has_password(me),
                form=form,
                muted_words=await self.safety.words(me),
            )
            return
        self.redirect(f"/account?done={action}")


default_handlers = [
    (r"/account", AccountPageHandler),
    (r"/account/([a-z]+)", AccountActionHandler),
]
