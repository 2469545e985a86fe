"""The OpenAPI schema's error answers, which drf-spectacular leaves out: an integrator (and the fuzz test)
needs to know that a bad parameter is a 400, an unknown film a 404 and a busy anonymous client a 429."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS

from catalog.api.serializers import ErrorSerializer

VALIDATION_ERROR = {
    "type": "object",
    "description": 'Each bad parameter or field with its problems, e.g. {"limit": ["Must be from 1 to 100."]}; '
    'items of a list are keyed by position, e.g. {"cast": {"2": ["This field may not be blank."]}}; '
    'problems spanning fields under "non_field_errors"; an unreadable body as {"detail": "JSON parse error..."}.',
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ]
    },
}


class MovieSiteAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict]:
        auths = super().get_auth()
        # Everything this API serves is readable without credentials.
        if self.method in SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        parameters = operation.get("parameters", [])
        if "requestBody" in operation or any(parameter["in"] == "query" for parameter in parameters):
            responses.setdefault("400", self._error("A parameter or field is invalid.", self._validation_error()))
        if "requestBody" in operation:
            responses.setdefault(
                "415", self._error("The body is in a media type this operation does not read (send JSON).", error)
            )
            responses.setdefault("413", self._error("The body is over 2 MB.", error))
        if {} not in operation.get("security", [{}]):
            responses.setdefault(
                "401",
                self._error(
                    "No credentials: send `Authorization: Token <key>`.",
                    error,
                    headers={"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Token"}},
                ),
            )
            responses.setdefault(
                "403",
                self._error(
                    "Not a staff user with the model permission for this change (or a browser session's request "
                    "without its CSRF token).",
                    error,
                ),
            )
        if any(parameter["in"] == "path" for parameter in parameters):
            film = "visible film" if self.method in SAFE_METHODS else "film (hidden or not)"
            responses.setdefault("404", self._error(f"No {film} has this id.", error))
        responses.setdefault(
            "429",
            self._error(
                "Too many requests from this anonymous client; try again after Retry-After seconds.",
                error,
                headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
            ),
        )
        responses.setdefault(
            "503",
            self._error(
                "The database is unavailable, or the request ran past its time limit; try again after Retry-After "
                "seconds.",
                error,
                headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
            ),
        )
        return operation

    def _validation_error(self) -> dict:
        component = ResolvedComponent(
            name="ValidationError", type=ResolvedComponent.SCHEMA, object="ValidationError", schema=VALIDATION_ERROR
        )
        self.registry.register_on_missing(component)
        return component.ref

    @staticmethod
    def _error(description: str, schema: dict, *, headers: dict | None = None) -> dict:
        response = {"description": description, "content": {"application/json": {"schema": schema}}}
        if headers:
            response["headers"] = headers
        return response


# What every text field and parameter of this API refuses: NUL characters (PostgreSQL cannot store them), and,
# where a value is required, text that is only whitespace (it is trimmed, then blank).
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


def describe_text_rules(result: dict, generator, request, public) -> dict:
    """A drf-spectacular postprocessing hook: put those two rules into the schema as patterns, on every
    free-text query parameter and request field, and say that an empty optional parameter counts as absent,
    so that clients (and the fuzz test) know."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    _add_text_rules(parameter["schema"])
                    if not parameter.get("required") and parameter["schema"].get("type") != "array":
                        # `?limit=` is taken for no limit at all, as DRF and django-filter read forms. (An
                        # array's `?genre=` is already a valid list of one empty, ignored, name.)
                        parameter["allowEmptyValue"] = True
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            for field in component.get("properties", {}).values():
                _add_text_rules(field)
    return result


def _add_text_rules(schema: dict) -> None:
    if schema.get("type") == "array":
        _add_text_rules(schema.get("items", {}))
    elif schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) > 0 else NO_NUL
