"""The OpenAPI schema's error responses: every operation declares the errors core.api can answer.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]), so that views
declare only their own outcomes (a 409, a 202) and the common ones are written once.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: a stable code, a message in the request's language, and field messages for 400s.",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Messages by field (for 400 and 409).",
            "additionalProperties": {},
        },
    },
    "required": ["code", "message"],
}
REF = {"$ref": "#/components/schemas/Error"}
COMMON = {
    "400": "Invalid input; the messages name the fields.",
    "403": "Not signed in, or without the permission this operation needs.",
    "503": "No database connection could be had in time: retry after Retry-After seconds.",
}
WITH_PATH_PARAMETERS = {"404": "No such row, or not one the caller may see."}
WITH_BODY = {
    "413": "The body is larger than API_MAX_BODY_BYTES.",
    "415": "The body's content type is not one this operation reads.",
}
WITH_API_KEY = {"401": "A wrong API key."}


def declare_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            errors = dict(COMMON)
            if "{" in path:
                errors.update(WITH_PATH_PARAMETERS)
            if "requestBody" in operation:
                errors.update(WITH_BODY)
            if any("PlatformApiKey" in scheme for scheme in operation.get("security", [])):
                errors.update(WITH_API_KEY)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                response = responses.setdefault(status, {"description": description})
                response["content"] = {"application/json": {"schema": REF}}
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" not in response:
                    response["content"] = {"application/json": {"schema": REF}}
    return result
