"""The API's OpenAPI 3.1 document, served at /api/openapi.json and drawn at /api/docs.

Written by hand as data, next to the handlers it describes; the test suite checks the
running app against it with schemathesis, so the two cannot drift apart unnoticed. The
pieces it is built from are in ``openapi_parts``; the schemas in ``openapi_components``.
"""

from __future__ import annotations

import copy
from typing import Any

from handlers.api.openapi_components import COMPONENTS
from handlers.api.openapi_parts import (
    NOT_FOUND,
    PAGING,
    body,
    error,
    ok,
    operation,
    ref,
    string_parameter,
)

POSTS = ok("A page of posts", "PostList")
SAFETY_ACTIONS = (
    ("block", "Block a person: follows end both ways, neither sees the other"),
    ("unblock", "Undo a block"),
    ("mute", "Mute a person's posts and comments in your lists, for a time"),
    ("unmute", "Undo a mute"),
)

PATHS: dict[str, Any] = {
    "/v2/token": {
        "post": operation(
            "createToken",
            "Trade a site's client secret for a token",
            {
                **ok("The token", "TokenAnswer"),
                "400": ref("responses", "BadRequest"),
                "401": ref("responses", "Unauthorized"),
                "405": ref("responses", "MethodNotAllowed"),
                "429": ref("responses", "TooManyRequests"),
            },
            request_body=body("TokenRequest"),
            token=False,
        )
    },
    "/v2/test": {
        "get": operation(
            "testToken",
            "What the token says: its decoded claims",
            ok("The token's claims", "ClaimsAnswer"),
        )
    },
    "/v2/posts/my": {
        "get": operation(
            "myPosts", "Posts of the token's user, newest first", POSTS, parameters=PAGING
        )
    },
    "/v2/posts/myLikes": {
        "get": operation(
            "myLikes",
            "Posts the token's user liked, newest post first",
            POSTS,
            parameters=PAGING,
        )
    },
    "/v2/posts/hashtag/{title}": {
        "get": operation(
            "postsByHashtag",
            "Posts carrying a hashtag (case-insensitive; URL-encode Korean)",
            {**POSTS, **NOT_FOUND},
            parameters=[
                string_parameter("title", "path", "The tag, with or without its #", 141),
                *PAGING,
            ],
        )
    },
    "/v2/posts/search": {
        "get": operation(
            "searchPosts",
            "Posts holding every word of q, newest first (Korean by 2-grams, as /search does)",
            POSTS,
            parameters=[
                string_parameter("q", "query", "The words; at most 140 characters", 140),
                *PAGING,
            ],
        )
    },
    **{
        f"/v2/users/{{id}}/{action}": {
            "post": operation(
                f"{action}User",
                summary,
                {**ok("What the token's user now has", "SafetyAnswer"), **NOT_FOUND},
                parameters=[ref("parameters", "userId")],
                request_body=body("MuteRequest", required=False) if action == "mute" else None,
            )
        }
        for action, summary in SAFETY_ACTIONS
    },
    "/v2/posts": {
        "post": operation(
            "createPost",
            "Write a post as the token's user (the compose form's rules)",
            ok("The new post", "PostAnswer", "201"),
            request_body=body("PostRequest"),
        )
    },
    "/v2/notifications": {
        "get": operation(
            "listNotifications",
            "The token user's notifications, newest first, and how many are unread "
            "(follows and likes grouped; reading the list marks nothing)",
            ok("A page of notifications", "NotificationList"),
            parameters=PAGING,
        )
    },
    "/v2/notifications/read": {
        "post": operation(
            "readNotifications",
            "Mark the token user's notifications read: all, or those up to a cursor (upTo)",
            ok("What was marked", "ReadAnswer"),
            request_body=body("ReadRequest", "ReadForm", required=False),
        )
    },
    "/v2/posts/img": {
        "post": operation(
            "uploadPicture",
            "Upload a picture for a post (the site's checks and hourly limits); pass its url "
            "in pictures of POST /v2/posts",
            {
                **ok("The stored picture", "UploadAnswer"),
                "413": error("The picture is too large (bytes, or too heavy to process)"),
            },
            request_body=body("PictureUpload", multipart=True),
        )
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "SNS API",
        "version": "2.0.0",
        "description": (
            "NodeBird's API for other sites. Register your site at /developers to get a "
            "client secret, trade it for a token at POST /v2/token, and send the token in "
            "the Authorization header (bare, as NodeBird clients do, or as `Bearer <token>`). "
            "A token lives 30 minutes; an expired one gets 419, on which clients ask for a "
            "new one. Every answer carries the RateLimit-* headers of its per-minute quota. "
            "Lists are newest first; pass an answer's nextCursor as cursor for the next "
            "page. The whole of /v1 answers 410 unless the server turned it on."
        ),
    },
    "servers": [{"url": "/"}],
    "paths": PATHS,
    "components": COMPONENTS,
}


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may not change the shared one)."""
    return copy.deepcopy(DOCUMENT)
