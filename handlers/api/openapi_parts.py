"""The pieces the API's OpenAPI document is built from, so each operation and answer shape
is written once: a reference, a JSON body, an answer with the quota headers, the errors
every token-protected route can give, an operation."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_ID = 10**18 - 1
"""The largest id a path or cursor takes (ids fit a signed 64-bit column with room)."""


def ref(kind: str, name: str) -> dict[str, str]:
    """A reference to ``#/components/<kind>/<name>``."""
    return {"$ref": f"#/components/{kind}/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


QUOTA_HEADERS = {
    "RateLimit-Limit": ref("headers", "RateLimit-Limit"),
    "RateLimit-Remaining": ref("headers", "RateLimit-Remaining"),
    "RateLimit-Reset": ref("headers", "RateLimit-Reset"),
}


def error(description: str, **extra_headers: Any) -> dict[str, Any]:
    """An error answer: ``{code, message}`` with the quota headers (and any others)."""
    return {
        "description": description,
        "headers": {**QUOTA_HEADERS, **extra_headers},
        "content": json_content(ref("schemas", "Error")),
    }


def ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    """A successful answer of the named schema, with the quota headers."""
    return {
        status: {
            "description": description,
            "headers": QUOTA_HEADERS,
            "content": json_content(ref("schemas", schema)),
        }
    }


COMMON_ERRORS = {
    "400": ref("responses", "BadRequest"),
    "401": ref("responses", "Unauthorized"),
    "405": ref("responses", "MethodNotAllowed"),
    "419": ref("responses", "TokenExpired"),
    "429": ref("responses", "TooManyRequests"),
}
NOT_FOUND = {"404": ref("responses", "NotFound")}
PAGING = [ref("parameters", "limit"), ref("parameters", "cursor")]
TOKEN: list[dict[str, list[str]]] = [{"token": []}]


def body(
    schema: str, form: str | None = None, *, required: bool = True, multipart: bool = False
) -> dict[str, Any]:
    """A request body of the named schema, as JSON and as a form (``form`` names the form's
    own schema where it differs), or as multipart alone."""
    if multipart:
        content = {MULTIPART: {"schema": ref("schemas", schema)}}
    else:
        content = {
            JSON: {"schema": ref("schemas", schema)},
            FORM: {"schema": ref("schemas", form or schema)},
        }
    return {"required": required, "content": content}


def operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
    token: bool = True,
) -> dict[str, Any]:
    """One operation; a token-protected one (the default) gives the common errors too."""
    described: dict[str, Any] = {"operationId": operation_id, "summary": summary}
    if token:
        described["security"] = TOKEN
    if parameters is not None:
        described["parameters"] = parameters
    if request_body is not None:
        described["requestBody"] = request_body
    described["responses"] = {**responses, **(COMMON_ERRORS if token else {})}
    return described


def string_parameter(name: str, where: str, description: str, max_length: int) -> dict[str, Any]:
    """A required string parameter of 1 to ``max_length`` characters."""
    return {
        "name": name,
        "in": where,
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": max_length},
    }


def answer(payload: dict[str, Any], code: int = 200) -> dict[str, Any]:
    """The envelope of a successful answer: ``{code, message, payload}``."""
    return {
        "type": "object",
        "required": ["code", "payload"],
        "properties": {
            "code": {"const": code},
            "message": {"type": "string"},
            "payload": payload,
        },
    }


def page_of(item: str, **extra: dict[str, Any]) -> dict[str, Any]:
    """A page of a list: the items, the cursor of the next page, and any ``extra`` fields."""
    return {
        "type": "object",
        "required": ["code", "payload", "nextCursor", *extra],
        "properties": {
            "code": {"const": 200},
            "message": {"type": "string"},
            "payload": {"type": "array", "items": ref("schemas", item)},
            "nextCursor": {
                "type": ["integer", "null"],
                "description": "Pass it as cursor for the next page; null: no more",
            },
            **extra,
        },
    }


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object schema with these properties, of which ``required`` must be present."""
    described: dict[str, Any] = {"type": "object"}
    if required:
        described["required"] = required
    described["properties"] = properties
    return described
