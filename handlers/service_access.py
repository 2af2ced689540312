"""The services as read-only properties of every handler (``self.posts``, ``self.db``...):
the one place a handler reaches ``build_services``' result, which ``make_app`` put in the
Application's settings."""

from __future__ import annotations

from tornado.web import RequestHandler

from sns.accounts import AccountService
from sns.comments import CommentService
from sns.db import Database
from sns.floods import FloodLimits
from sns.follows import FollowService
from sns.images import ImageService
from sns.kakao import KakaoLogin
from sns.likes import LikeService
from sns.moderation import ModerationService
from sns.posts import PostService
from sns.profiles import ProfileService
from sns.safety import SafetyService
from sns.services import Services
from sns.sessions import SessionStore
from sns.settings import Settings


class ServiceAccess(RequestHandler):
    """``BaseHandler``'s bottom layer: the services, read-only."""

    @property
    def services(self) -> Services:
        services: Services = self.settings["services"]
        return services

    @property
    def config(self) -> Settings:
        return self.services.settings

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def sessions(self) -> SessionStore:
        return self.services.sessions

    @property
    def accounts(self) -> AccountService:
        return self.services.accounts

    @property
    def posts(self) -> PostService:
        return self.services.posts

    @property
    def comments(self) -> CommentService:
        return self.services.comments

    @property
    def likes(self) -> LikeService:
        return self.services.likes

    @property
    def follows(self) -> FollowService:
        return self.services.follows

    @property
    def images(self) -> ImageService:
        return self.services.images

    @property
    def profiles(self) -> ProfileService:
        return self.services.profiles

    @property
    def kakao(self) -> KakaoLogin | None:
        return self.services.kakao

    @property
    def moderation(self) -> ModerationService:
        return self.services.moderation

    @property
    def floods(self) -> FloodLimits:
        return self.services.floods

    @property
    def safety(self) -> SafetyService:
        return self.services.safety
