"""/developers: register the sites that use the API, see their client secrets, rotate, delete."""

from __future__ import annotations

from typing import Any

from handlers.base import login_required
from handlers.page import PageHandler
from handlers.paths import ROW_ID
from sns.api_clients import TIERS, ApiClientService, Site
from sns.errors import Invalid, ServiceError

NOTICES = {
    "added": "The site was registered. Its client secret is below.",
    "secret": "The site has a new client secret; tokens bought with the old one stop working.",
    "delete": "The site was deleted; its secret and tokens no longer work.",
}


def site_payload(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "host": site.host,
        "type": site.tier,
        "clientSecret": site.client_secret,
    }


class DevelopersBase(PageHandler):
    @property
    def api_clients(self) -> ApiClientService:
        return self.services.api_clients

    async def developers_values(self, form: dict[str, str] | None = None) -> dict[str, Any]:
        """What developers.html shows besides an error: my sites, the tiers, the form."""
        notice = NOTICES.get(self.get_query_argument("done", ""))
        return {
            "sites": await self.api_clients.sites_of(self.user.id),
            "tiers": TIERS,
            "limits": self.api_clients.limits,
            "notice": notice if self.request.method == "GET" else None,
            "form": form or {"type": "free"},
        }


class DevelopersPageHandler(DevelopersBase):
    """GET /developers: my sites with their secrets, and the form to add one."""

    @login_required
    async def get(self) -> None:
        await self.render_page("developers.html", **await self.developers_values())


class DomainCreateHandler(DevelopersBase):
    """POST /developers/domain: NodeBird's form, ``host`` and ``type`` (free|premium)."""

    @login_required
    async def post(self) -> None:
        host = self.get_argument("host", "")
        tier = self.get_argument("type", "free")
        try:
            site = await self.api_clients.register(self.user.id, host, tier)
        except ServiceError as exc:
            form = {"host": host, "type": tier}
            await self.refuse(exc, "developers.html", **await self.developers_values(form))
            return
        self.answer(
            site_payload(site), status=201, default=f"/developers?done=added#site-{site.id}"
        )


class DomainActionHandler(DevelopersBase):
    """POST /developers/domain/<id>/secret (rotate) and /developers/domain/<id>/delete; any
    other action is a 400."""

    @login_required
    async def post(self, site_id: str, action: str) -> None:
        if action == "secret":
            site = await self.api_clients.rotate_secret(self.user.id, int(site_id))
            self.answer(site_payload(site), default=f"/developers?done=secret#site-{site.id}")
        elif action == "delete":
            await self.api_clients.delete(self.user.id, int(site_id))
            self.answer({"id": int(site_id), "deleted": True}, default="/developers?done=delete")
        else:
            raise Invalid("There is no such action.")


default_handlers = [
    (r"/developers", DevelopersPageHandler),
    (r"/developers/domain", DomainCreateHandler),
    (rf"/developers/domain/{ROW_ID}/([a-z]+)", DomainActionHandler),
]
