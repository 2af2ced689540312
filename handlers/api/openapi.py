"""The API's OpenAPI 3.1 document, served at /api/openapi.json and drawn at /api/docs.

Written by hand as data, next to the handlers it describes; the test suite checks the
running app against it with schemathesis, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import copy
from typing import Any

from sns.api_posts import DEFAULT_LIMIT, MAX_LIMIT
from sns.text import POST_MAX_CHARS

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


QUOTA_HEADERS = {
    "RateLimit-Limit": _ref("headers", "RateLimit-Limit"),
    "RateLimit-Remaining": _ref("headers", "RateLimit-Remaining"),
    "RateLimit-Reset": _ref("headers", "RateLimit-Reset"),
}


def _error(description: str, **extra_headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**QUOTA_HEADERS, **extra_headers},
        "content": _json(_ref("schemas", "Error")),
    }


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "headers": QUOTA_HEADERS,
            "content": _json(_ref("schemas", schema)),
        }
    }


COMMON_ERRORS = {
    "400": _ref("responses", "BadRequest"),
    "401": _ref("responses", "Unauthorized"),
    "405": _ref("responses", "MethodNotAllowed"),
    "419": _ref("responses", "TokenExpired"),
    "429": _ref("responses", "TooManyRequests"),
}
PAGING = [_ref("parameters", "limit"), _ref("parameters", "cursor")]
TOKEN: list[dict[str, list[str]]] = [{"token": []}]

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
    "paths": {
        "/v2/token": {
            "post": {
                "operationId": "createToken",
                "summary": "Trade a site's client secret for a token",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref("schemas", "TokenRequest")},
                        FORM: {"schema": _ref("schemas", "TokenRequest")},
                    },
                },
                "responses": {
                    **_ok("The token", "TokenAnswer"),
                    "400": _ref("responses", "BadRequest"),
                    "401": _ref("responses", "Unauthorized"),
                    "405": _ref("responses", "MethodNotAllowed"),
                    "429": _ref("responses", "TooManyRequests"),
                },
            }
        },
        "/v2/test": {
            "get": {
                "operationId": "testToken",
                "summary": "What the token says: its decoded claims",
                "security": TOKEN,
                "responses": {**_ok("The token's claims", "ClaimsAnswer"), **COMMON_ERRORS},
            }
        },
        "/v2/posts/my": {
            "get": {
                "operationId": "myPosts",
                "summary": "Posts of the token's user, newest first",
                "security": TOKEN,
                "parameters": PAGING,
                "responses": {**_ok("A page of posts", "PostList"), **COMMON_ERRORS},
            }
        },
        "/v2/posts/myLikes": {
            "get": {
                "operationId": "myLikes",
                "summary": "Posts the token's user liked, newest post first",
                "security": TOKEN,
                "parameters": PAGING,
                "responses": {**_ok("A page of posts", "PostList"), **COMMON_ERRORS},
            }
        },
        "/v2/posts/hashtag/{title}": {
            "get": {
                "operationId": "postsByHashtag",
                "summary": "Posts carrying a hashtag (case-insensitive; URL-encode Korean)",
                "security": TOKEN,
                "parameters": [
                    {
                        "name": "title",
                        "in": "path",
                        "required": True,
                        "description": "The tag, with or without its #",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 141},
                    },
                    *PAGING,
                ],
                "responses": {
                    **_ok("A page of posts", "PostList"),
                    "404": _ref("responses", "NotFound"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/v2/posts/search": {
            "get": {
                "operationId": "searchPosts",
                "summary": "Posts holding every word of q, newest first (Korean by 2-grams, as "
                "/search does)",
                "security": TOKEN,
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "description": "The words; at most 140 characters",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 140},
                    },
                    *PAGING,
                ],
                "responses": {**_ok("A page of posts", "PostList"), **COMMON_ERRORS},
            }
        },
        **{
            f"/v2/users/{{id}}/{action}": {
                "post": {
                    "operationId": f"{action}User",
                    "summary": summary,
                    "security": TOKEN,
                    "parameters": [_ref("parameters", "userId")],
                    **(
                        {
                            "requestBody": {
                                "required": False,
                                "content": {
                                    JSON: {"schema": _ref("schemas", "MuteRequest")},
                                    FORM: {"schema": _ref("schemas", "MuteRequest")},
                                },
                            }
                        }
                        if action == "mute"
                        else {}
                    ),
                    "responses": {
                        **_ok("What the token's user now has", "SafetyAnswer"),
                        "404": _ref("responses", "NotFound"),
                        **COMMON_ERRORS,
                    },
                }
            }
            for action, summary in (
                ("block", "Block a person: follows end both ways, neither sees the other"),
                ("unblock", "Undo a block"),
                ("mute", "Mute a person's posts and comments in your lists, for a time"),
                ("unmute", "Undo a mute"),
            )
        },
        "/v2/posts": {
            "post": {
                "operationId": "createPost",
                "summary": "Write a post as the token's user (the compose form's rules)",
                "security": TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref("schemas", "PostRequest")},
                        FORM: {"schema": _ref("schemas", "PostRequest")},
                    },
                },
                "responses": {**_ok("The new post", "PostAnswer", "201"), **COMMON_ERRORS},
            }
        },
        "/v2/notifications": {
            "get": {
                "operationId": "listNotifications",
                "summary": "The token user's notifications, newest first, and how many are "
                "unread (follows and likes grouped; reading the list marks nothing)",
                "security": TOKEN,
                "parameters": PAGING,
                "responses": {
                    **_ok("A page of notifications", "NotificationList"),
                    **COMMON_ERRORS,
                },
            }
        },
        "/v2/notifications/read": {
            "post": {
                "operationId": "readNotifications",
                "summary": "Mark the token user's notifications read: all, or those up to a "
                "cursor (upTo)",
                "security": TOKEN,
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {"schema": _ref("schemas", "ReadRequest")},
                        FORM: {"schema": _ref("schemas", "ReadForm")},
                    },
                },
                "responses": {**_ok("What was marked", "ReadAnswer"), **COMMON_ERRORS},
            }
        },
        "/v2/posts/img": {
            "post": {
                "operationId": "uploadPicture",
                "summary": "Upload a picture for a post (the site's checks and hourly limits); "
                "pass its url in pictures of POST /v2/posts",
                "security": TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {MULTIPART: {"schema": _ref("schemas", "PictureUpload")}},
                },
                "responses": {
                    **_ok("The stored picture", "UploadAnswer"),
                    **COMMON_ERRORS,
                    "413": _error("The picture is too large (bytes, or too heavy to process)"),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "token": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "The JWT from /v2/token, bare or as `Bearer <jwt>`",
            }
        },
        "parameters": {
            "limit": {
                "name": "limit",
                "in": "query",
                "description": f"Posts per page (default {DEFAULT_LIMIT})",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            "userId": {
                "name": "id",
                "in": "path",
                "required": True,
                "description": "The person's user id",
                "schema": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
            },
            "cursor": {
                "name": "cursor",
                "in": "query",
                "description": "The nextCursor of the previous page",
                "schema": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
            },
        },
        "headers": {
            "RateLimit-Limit": {
                "description": "Requests allowed in the current minute",
                "schema": {"type": "integer", "minimum": 1},
            },
            "RateLimit-Remaining": {
                "description": "Requests left in the current minute",
                "schema": {"type": "integer", "minimum": 0},
            },
            "RateLimit-Reset": {
                "description": "Seconds until the current minute ends",
                "schema": {"type": "integer", "minimum": 1},
            },
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 1},
            },
        },
        "responses": {
            "BadRequest": _error("The request could not be used (the message says why)"),
            "Unauthorized": _error(
                "No token, a bad token, an unknown client secret, or a token whose site, "
                "secret or account has changed"
            ),
            "NotFound": _error("No such hashtag, user or endpoint"),
            "MethodNotAllowed": {
                "description": "The path does not take this method",
                "headers": {
                    **QUOTA_HEADERS,
                    "Allow": {
                        "description": "The methods it takes",
                        "schema": {"type": "string"},
                    },
                },
                "content": _json(_ref("schemas", "Error")),
            },
            "TokenExpired": _error("The token has expired: ask /v2/token for a new one"),
            "TooManyRequests": _error(
                "Over the per-minute quota", **{"Retry-After": _ref("headers", "Retry-After")}
            ),
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status again"},
                    "message": {"type": "string"},
                },
            },
            "TokenRequest": {
                "type": "object",
                "required": ["clientSecret"],
                "properties": {"clientSecret": {"type": "string", "minLength": 1}},
            },
            "TokenAnswer": {
                "type": "object",
                "required": ["code", "message", "token"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "token": {"type": "string", "description": "A JWT (HS256)"},
                },
            },
            "Claims": {
                "type": "object",
                "required": ["iss", "iat", "exp", "id", "nick", "domain", "tier"],
                "properties": {
                    "iss": {"const": "sns"},
                    "iat": {"type": "integer"},
                    "exp": {"type": "integer"},
                    "id": {"type": "integer", "description": "The site owner's user id"},
                    "nick": {"type": "string"},
                    "domain": {"type": "integer", "description": "The site's id"},
                    "tier": {"enum": ["free", "premium"]},
                    "sfp": {"type": "string", "description": "Which secret bought the token"},
                },
            },
            "ClaimsAnswer": {
                "type": "object",
                "required": ["code", "payload"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "payload": _ref("schemas", "Claims"),
                },
            },
            "User": {
                "type": "object",
                "required": ["id", "nick", "avatarUrl"],
                "properties": {
                    "id": {"type": "integer"},
                    "nick": {"type": "string"},
                    "avatarUrl": {
                        "type": ["string", "null"],
                        "description": "The author's avatar, a square of at least 96 pixels "
                        "(while its sizes are being made, the original square); null: no "
                        "avatar (draw initials)",
                    },
                },
            },
            "Post": {
                "type": "object",
                "required": [
                    "id",
                    "content",
                    "likeCount",
                    "user",
                    "hashtags",
                    "createdAt",
                    "thumbnailUrl",
                    "originalUrl",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "content": {"type": "string", "maxLength": POST_MAX_CHARS},
                    "likeCount": {"type": "integer", "minimum": 0},
                    "user": _ref("schemas", "User"),
                    "hashtags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Folded to lower case",
                    },
                    "createdAt": {"type": "string", "format": "date-time"},
                    "thumbnailUrl": {
                        "type": ["string", "null"],
                        "description": "The first picture's thumbnail (see pictures)",
                    },
                    "originalUrl": {
                        "type": ["string", "null"],
                        "description": "The first picture's original",
                    },
                    "pictures": {
                        "type": "array",
                        "maxItems": 4,
                        "items": _ref("schemas", "Picture"),
                    },
                },
            },
            "Picture": {
                "type": "object",
                "required": ["thumbnailUrl", "originalUrl", "alt", "width", "height"],
                "properties": {
                    "thumbnailUrl": {
                        "type": "string",
                        "description": "The small thumbnail; for a few seconds after the "
                        "upload it may not exist yet: show originalUrl then",
                    },
                    "originalUrl": {"type": "string"},
                    "alt": {"type": "string", "maxLength": 1500, "description": "Alt text"},
                    "width": {"type": ["integer", "null"], "description": "Of the original"},
                    "height": {"type": ["integer", "null"]},
                },
            },
            "PictureUpload": {
                "type": "object",
                "required": ["img"],
                "properties": {"img": {"type": "string", "format": "binary"}},
            },
            "UploadAnswer": {
                "type": "object",
                "required": ["code", "url", "originalUrl", "name", "width", "height"],
                "properties": {
                    "code": {"const": 200},
                    "url": {"type": "string", "description": "Its thumbnail, to post"},
                    "originalUrl": {"type": "string"},
                    "name": {"type": "string"},
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "placeholder": {"type": "string", "description": "A blurhash"},
                },
            },
            "PictureRequest": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "description": "From POST /v2/posts/img"},
                    "alt": {"type": "string", "maxLength": 1500},
                },
            },
            "PostList": {
                "type": "object",
                "required": ["code", "payload", "nextCursor"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "payload": {"type": "array", "items": _ref("schemas", "Post")},
                    "nextCursor": {
                        "type": ["integer", "null"],
                        "description": "Pass it as cursor for the next page; null: no more",
                    },
                },
            },
            "PostRequest": {
                "type": "object",
                "required": ["content"],
                "properties": {
                    "content": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": POST_MAX_CHARS,
                        "description": "1 to 140 characters; #hashtags are linked",
                    },
                    "pictures": {
                        "type": "array",
                        "maxItems": 4,
                        "items": _ref("schemas", "PictureRequest"),
                        "description": "Up to 4 of your uploads, in order, each with alt text",
                    },
                },
            },
            "Notification": {
                "type": "object",
                "required": [
                    "id",
                    "cursor",
                    "kind",
                    "unread",
                    "createdAt",
                    "actor",
                    "actorCount",
                    "postId",
                    "commentId",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "cursor": {
                        "type": "integer",
                        "description": "Its place in the list (for upTo)",
                    },
                    "kind": {"enum": ["follow", "like", "comment", "reply", "mention"]},
                    "unread": {"type": "boolean"},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "actor": {
                        "type": "object",
                        "required": ["id", "nick", "handle"],
                        "properties": {
                            "id": {"type": "integer"},
                            "nick": {"type": "string"},
                            "handle": {"type": ["string", "null"]},
                        },
                        "description": "The newest of the people who did it",
                    },
                    "actorCount": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "How many people in all (grouped follows and likes)",
                    },
                    "postId": {"type": ["integer", "null"]},
                    "commentId": {"type": ["integer", "null"]},
                },
            },
            "NotificationList": {
                "type": "object",
                "required": ["code", "payload", "nextCursor", "unreadCount"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "payload": {"type": "array", "items": _ref("schemas", "Notification")},
                    "nextCursor": {
                        "type": ["integer", "null"],
                        "description": "Pass it as cursor for the next page; null: no more",
                    },
                    "unreadCount": {"type": "integer", "minimum": 0},
                },
            },
            "ReadRequest": {
                "type": "object",
                "properties": {
                    "upTo": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 10**18 - 1,
                        "description": "Mark those up to this cursor; absent: all",
                    }
                },
            },
            "ReadForm": {
                "type": "object",
                "properties": {"upTo": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}},
            },
            "ReadAnswer": {
                "type": "object",
                "required": ["code", "payload"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "payload": {
                        "type": "object",
                        "required": ["marked", "unreadCount"],
                        "properties": {
                            "marked": {"type": "integer", "minimum": 0},
                            "unreadCount": {"type": "integer", "minimum": 0},
                        },
                    },
                },
            },
            "MuteRequest": {
                "type": "object",
                "properties": {
                    "duration": {
                        "enum": ["1h", "1d", "7d", "forever"],
                        "description": "How long the mute lasts (default forever)",
                    }
                },
            },
            "SafetyAnswer": {
                "type": "object",
                "required": ["code", "payload"],
                "properties": {
                    "code": {"const": 200},
                    "message": {"type": "string"},
                    "payload": {
                        "type": "object",
                        "required": ["userId"],
                        "properties": {
                            "userId": {"type": "integer"},
                            "blocking": {"type": "boolean"},
                            "muting": {"type": "boolean"},
                            "until": {
                                "type": ["string", "null"],
                                "format": "date-time",
                                "description": "When the mute ends; null: until unmuted",
                            },
                        },
                    },
                },
            },
            "PostAnswer": {
                "type": "object",
                "required": ["code", "payload"],
                "properties": {
                    "code": {"const": 201},
                    "message": {"type": "string"},
                    "payload": _ref("schemas", "Post"),
                },
            },
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """A copy of the document (callers may not change the shared one)."""
    return copy.deepcopy(DOCUMENT)
