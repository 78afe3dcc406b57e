"""The OpenAPI 3.1 document of the inbound lead API, served at /api/v1/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_STEP = {
    "type": "object",
    "properties": {
        "step": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "in_progress", "held", "done"]},
        "outcome": {
            "type": ["string", "null"],
            "enum": ["success", "failure", "error", "skip", None],
        },
        "reason": {"type": ["string", "null"]},
        "contact_id": {"type": ["string", "null"]},
        "duplicate": {"type": ["boolean", "null"]},
        "attempts": {"type": "integer"},
        "response_ms": {"type": ["integer", "null"]},
    },
}

_STOPPED = {
    "type": "object",
    "required": ["step", "kind", "reason"],
    "properties": {
        "step": {"type": "string", "description": "The step's name"},
        "kind": {"type": "string", "enum": ["filter", "recipient"]},
        "reason": {"type": "string"},
        "routed_to_flow": {
            "type": ["integer", "null"],
            "description": "The flow the filter sent the lead to",
        },
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "LeadFlow inbound lead API",
        "version": "1",
        "description": "Post leads into a flow; LeadFlow delivers them to the flow's CRM steps.",
    },
    "components": {
        "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
            "Queued": {
                "type": "object",
                "required": ["id", "status", "url"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"const": "queued"},
                    "url": {"type": "string"},
                },
            },
            "Lead": {
                "type": "object",
                "required": ["id", "flow", "status", "received_at", "steps"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "flow": {"type": "integer"},
                    "status": {"type": "string", "enum": ["queued", "processing", "done"]},
                    "received_at": {"type": "string", "format": "date-time"},
                    "steps": {"type": "array", "items": _STEP},
                    "stopped": {
                        "description": "Where the flow stopped before its last step, and "
                        "why: a filter step, or a step that stops the flow unless it "
                        "succeeds. Null when the flow ran to its end (or is running).",
                        "oneOf": [{"type": "null"}, _STOPPED],
                    },
                    "routed_to": {
                        "description": "Leads a filter sent on to another flow, from this one",
                        "type": "array",
                        "items": {"type": "string", "format": "uuid"},
                    },
                    "routed_from": {
                        "description": "The lead a filter routed into this flow, if any",
                        "type": ["string", "null"],
                        "format": "uuid",
                    },
                },
            },
        },
    },
    "security": [{"apiKey": []}, {"bearer": []}],
    "paths": {
        "/api/v1/flows/{flow_id}/leads": {
            "post": {
                "summary": "Submit a lead",
                "parameters": [
                    {
                        "name": "flow_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                    {
                        "name": "wait",
                        "in": "query",
                        "description": "Hold the answer until the flow finishes or this"
                        " many seconds pass.",
                        "schema": {"type": "number", "minimum": 0, "maximum": 30},
                    },
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "description": "A repeat within 24 h returns the first answer and delivers"
                        " nothing new.",
                        "schema": {"type": "string", "maxLength": 200},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object", "minProperties": 1}},
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "202": {
                        "description": "Stored and queued for delivery",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Queued"}}
                        },
                    },
                    "200": {
                        "description": "With ?wait: the flow finished in time",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Lead"}}
                        },
                    },
                    "400": _error(
                        "Not a lead: not an object, malformed JSON, an oversize field, nesting"
                        " too deep, too many values or fields, a number that is not finite,"
                        " text with NUL or a lone surrogate, a bad Content-Length"
                    ),
                    "401": _error("Missing or invalid API key"),
                    "404": _error("Unknown flow"),
                    "405": _error("Method not allowed"),
                    "413": _error("Body over the limit"),
                    "415": _error("Unsupported content type"),
                    "429": _error("Source over its intake rate"),
                    "500": _error("Internal error"),
                    "503": _error("The database is unavailable: nothing was stored, retry"),
                },
            }
        },
        "/api/v1/leads/{lead_id}": {
            "get": {
                "summary": "A lead's status and per-step outcomes",
                "parameters": [
                    {
                        "name": "lead_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The lead",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Lead"}}
                        },
                    },
                    "401": _error("Missing or invalid API key"),
                    "404": _error("No such lead in this key's flow"),
                    "405": _error("Method not allowed"),
                    "500": _error("Internal error"),
                    "503": _error("The database is unavailable, retry"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Database and broker status",
                "security": [],
                "responses": {
                    "200": {"description": "Leads can be stored"},
                    "503": {"description": "Database down"},
                },
            }
        },
    },
}


@csrf_exempt
@require_GET
def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(DOCUMENT)
