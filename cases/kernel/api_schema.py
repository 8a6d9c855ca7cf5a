"""The OpenAPI description of the API's errors (DEFAULT_SCHEMA_CLASS): every operation
documents the 401, 403 and 429 any call can get, the 404 of an object or a page that does
not exist, and the 400 of a body or a filter the server refuses, each with the body DRF
sends for it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

WRITE_METHODS = ("POST", "PUT", "PATCH")


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The body of every refusal that is not about single fields."""

    detail = serializers.CharField(help_text=_("What went wrong, in the caller's language."))


# A refused body or filter: each field name (or "non_field_errors", or "detail" for a body
# that could not be parsed) with its messages; nested objects and lists nest the same way.
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    # Lazy: rendered in the language of the request for the schema.
    "description": _(
        "Field name → its messages (a list of strings; nested objects and lists "
        "nest the same way). `non_field_errors` holds what concerns several fields, "
        "`detail` a body that could not be parsed."
    ),
    "additionalProperties": {},
}

ERRORS = {
    "400": _("The body, a filter or page_size was refused; the body says why, field by field."),
    "401": _("No valid credentials: send `Authorization: Token <key>` or a session cookie."),
    "403": _("Not a member of an agency, or the role may not do this."),
    "404": _("Not found in your agency (or no such page of results)."),
    "429": _("Too many requests: retry after the number of seconds in `Retry-After`."),
}


class AgencyAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "429"]
        has_path_params = "{" in self.path
        paginated = self._is_list_view() and self._get_paginator() is not None  # type: ignore[no-untyped-call]
        if has_path_params or paginated:
            codes.append("404")
        filtered = getattr(self.view, "filterset_class", None) is not None
        # A malformed filter or page_size (cases/kernel/api.py _StrictPageSize) is a 400.
        has_body = self.method in WRITE_METHODS and self.get_request_serializer() is not None
        if has_body or (self.method == "GET" and (filtered or paginated)):
            codes.append("400")
        return sorted(codes)

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        # The view's own error responses without a body get the standard one too.
        documented = [c for c in responses if c.startswith("4") and "content" not in responses[c]]
        for code in sorted({*self._error_codes(), *documented}):
            own = responses.get(code, {})
            if "content" in own:
                continue  # the view documents this error's body itself
            body: Any = VALIDATION_ERROR_SCHEMA if code == "400" else ErrorSerializer
            response = self._get_response_for_code(body, code, direction=direction)  # type: ignore[no-untyped-call]
            # A view's own description of the error (which fields, why) is kept.
            response["description"] = own.get("description") or str(ERRORS.get(code, ""))
            if code == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": str(_("Seconds to wait before the next request.")),
                    }
                }
            responses[code] = response
        return responses
