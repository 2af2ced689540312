"""The components of the API's OpenAPI document: the token scheme, shared parameters and
headers, the error answers, and the schemas of every body and answer."""

from __future__ import annotations

from typing import Any

from handlers.api.openapi_parts import (
    MAX_ID,
    answer,
    error,
    obj,
    page_of,
    ref,
)
from sns.api_posts import DEFAULT_LIMIT, MAX_LIMIT
from sns.text import POST_MAX_CHARS

COMPONENTS: dict[str, Any] = {
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
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        },
        "cursor": {
            "name": "cursor",
            "in": "query",
            "description": "The nextCursor of the previous page",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
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
        "BadRequest": error("The request could not be used (the message says why)"),
        "Unauthorized": error(
            "No token, a bad token, an unknown client secret, or a token whose site, "
            "secret or account has changed"
        ),
        "NotFound": error("No such hashtag, user or endpoint"),
        "MethodNotAllowed": error(
            "The path does not take this method",
            Allow={"description": "The methods it takes", "schema": {"type": "string"}},
        ),
        "TokenExpired": error("The token has expired: ask /v2/token for a new one"),
        "TooManyRequests": error(
            "Over the per-minute quota", **{"Retry-After": ref("headers", "Retry-After")}
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
        "ClaimsAnswer": answer(ref("schemas", "Claims")),
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
                "pictures",
            ],
            "properties": {
                "id": {"type": "integer"},
                "content": {"type": "string", "maxLength": POST_MAX_CHARS},
                "likeCount": {"type": "integer", "minimum": 0},
                "user": ref("schemas", "User"),
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
                    "items": ref("schemas", "Picture"),
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
        "PostList": page_of("Post"),
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
                    "items": ref("schemas", "PictureRequest"),
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
        "NotificationList": page_of("Notification", unreadCount={"type": "integer", "minimum": 0}),
        "ReadRequest": {
            "type": "object",
            "properties": {
                "upTo": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ID,
                    "description": "Mark those up to this cursor; absent: all",
                }
            },
        },
        "ReadForm": {
            "type": "object",
            "properties": {"upTo": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}},
        },
        "ReadAnswer": answer(
            obj(
                ["marked", "unreadCount"],
                marked={"type": "integer", "minimum": 0},
                unreadCount={"type": "integer", "minimum": 0},
            )
        ),
        "MuteRequest": {
            "type": "object",
            "properties": {
                "duration": {
                    "enum": ["1h", "1d", "7d", "forever"],
                    "description": "How long the mute lasts (default forever)",
                }
            },
        },
        "SafetyAnswer": answer(
            obj(
                ["userId"],
                userId={"type": "integer"},
                blocking={"type": "boolean"},
                muting={"type": "boolean"},
                until={
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the mute ends; null: until unmuted",
                },
            )
        ),
        "PostAnswer": answer(ref("schemas", "Post"), code=201),
    },
}
