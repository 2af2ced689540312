"""Block, unblock, mute and unmute someone, and mute words: small actions that answer JSON
to fetch and send forms back to the page they came from."""

from __future__ import annotations

from handlers.base import login_required
from handlers.page import PageHandler
from handlers.paths import ROW_ID
from sns.errors import ServiceError
from sns.times import iso_utc


class SafetyActionHandler(PageHandler):
    """POST /user/<id>/block, /unblock, /mute (``duration``: 1h, 1d, 7d, forever), /unmute.

    Not yourself; doing it twice changes nothing. The other person is not told.
    """

    @login_required
    async def post(self, user_id: str, action: str) -> None:
        target = int(user_id)
        until = None
        if action == "block":
            await self.safety.block(self.user.id, target)
        elif action == "unblock":
            await self.safety.unblock(self.user.id, target)
        elif action == "mute":
            duration = self.get_argument("duration", "forever") or "forever"
            until = await self.safety.mute(self.user.id, target, duration)
        else:
            await self.safety.unmute(self.user.id, target)
        self.answer(
            {
                "user_id": target,
                "blocking": action == "block" if action in ("block", "unblock") else None,
                "muting": action == "mute" if action in ("mute", "unmute") else None,
                "until": iso_utc(until) if until is not None else None,
            },
            default=f"/user/{target}",
        )


class MutedWordHandler(PageHandler):
    """POST /account/words/add and /account/words/remove, field ``word``."""

    @login_required
    async def post(self, action: str) -> None:
        word = self.get_argument("word", "")
        try:
            if action == "add":
                await self.safety.add_word(self.user.id, word)
            else:
                await self.safety.remove_word(self.user.id, word)
        except ServiceError as exc:
            if self.wants_json():
                raise
            self.set_status(self.status_for(exc))
            await self.render_page(
                "account.html",
                notice="",
                has_password=await self.accounts.has_password(self.user.id),
                muted_words=await self.safety.words(self.user.id),
                error=self.tr(exc),
                field=exc.field,
                form={"word": word},
            )
            return
        if self.wants_json():
            self.answer({"word": word.strip(), "muted": action == "add"})
            return
        self.redirect("/account?done=words#muted-words")


default_handlers = [
    (rf"/user/{ROW_ID}/(block|unblock|mute|unmute)", SafetyActionHandler),
    (r"/account/words/(add|remove)", MutedWordHandler),
]
