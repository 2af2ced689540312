"""The API's description: the OpenAPI document as JSON, and a page drawn from it."""

from __future__ import annotations

from typing import Any

from handlers.api.openapi import openapi_document
from handlers.base import BaseHandler
from handlers.page import PageHandler

METHODS = ("get", "post", "put", "patch", "delete")


def schema_name(node: dict[str, Any]) -> str:
    """``#/components/schemas/Post`` -> ``Post``; inline schemas by their type."""
    ref = node.get("$ref")
    if ref:
        return str(ref).rsplit("/", 1)[-1]
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return " | ".join(str(value) for value in node["enum"])
    if node.get("type") == "array":
        return f"[{schema_name(node.get('items', {}))}]"
    kind = node.get("type", "")
    return " | ".join(kind) if isinstance(kind, list) else str(kind)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow one ``$ref`` inside the document."""
    ref = node.get("$ref")
    if not ref:
        return node
    found: Any = document
    for part in str(ref).lstrip("#/").split("/"):
        found = found[part]
    return dict(found)


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each path and method as the page lists it: parameters, body fields, answers."""
    listed = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            parameters = [resolve(document, p) for p in operation.get("parameters", [])]
            body_schema = None
            body = operation.get("requestBody")
            if body:
                first = next(iter(body["content"].values()))
                body_schema = schema_name(first["schema"])
            answers = []
            for status, answer in operation["responses"].items():
                answer = resolve(document, answer)
                content = answer.get("content", {})
                schema = schema_name(next(iter(content.values()))["schema"]) if content else ""
                answers.append((status, answer["description"], schema))
            listed.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": operation["operationId"],
                    "summary": operation.get("summary", ""),
                    "token": bool(operation.get("security")),
                    "parameters": parameters,
                    "body": body_schema,
                    "body_types": list(body["content"]) if body else [],
                    "answers": answers,
                }
            )
    return listed


class OpenApiHandler(BaseHandler):
    """GET /api/openapi.json: the document, for tools and code generators."""

    async def authenticate(self) -> None:
        return None

    def get(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")  # public, and no cookies read
        self.write(openapi_document())


class ApiDocsHandler(PageHandler):
    """GET /api/docs: the document as a page of our own (no CDN, no script)."""

    async def get(self) -> None:
        document = openapi_document()
        schemas = {
            name: {
                "required": set(schema.get("required", [])),
                "properties": {
                    field: (schema_name(prop), prop.get("description", ""))
                    for field, prop in schema.get("properties", {}).items()
                },
            }
            for name, schema in document["components"]["schemas"].items()
        }
        await self.render_page(
            "api_docs.html",
            info=document["info"],
            operations=operations(document),
            schemas=schemas,
        )
