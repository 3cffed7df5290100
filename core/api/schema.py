"""OpenAPI additions every operation shares: the Idempotency-Key header on POST, and the
409 that writes answer when the resource is not in a state that allows them."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.utils import OpenApiParameter
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from rest_framework import serializers

from core.idempotency import HEADER, MAX_KEY_LENGTH


class Error409Serializer(serializers.Serializer[Any]):
    code = serializers.CharField(
        help_text="e.g. invalid_transition, ticket_closed, idempotency_key_reused"
    )
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse409Serializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=["client_error"])
    errors = Error409Serializer(many=True)  # type: ignore[assignment]  # a field named "errors"


_WRITES = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(StandardizedErrorsAutoSchema):
    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    HEADER,
                    location=OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        f"Up to {MAX_KEY_LENGTH} characters, unique per request you mean. A repeat "
                        "with the same key and body returns the first response (with "
                        "`Idempotent-Replayed: true`) instead of doing the work twice."
                    ),
                )
            )
        return parameters

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction == "response" and self.method in _WRITES and "409" not in responses:
            responses["409"] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                ErrorResponse409Serializer, "409"
            )
        return responses
