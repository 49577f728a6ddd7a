"""OpenAPI description of the strict input serializers (drf-spectacular).

A :class:`documents.serializers.StrictSerializer` answers 400 for a field it
does not know, so its request schema says ``additionalProperties: false``;
without it a client reading the schema (and schemathesis) sends extra
fields the server refuses.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension


class StrictSerializerScheme(OpenApiSerializerExtension):
    target_class = "documents.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        """Map the serializer as usual, then close its request object."""
        # drf-spectacular's documented way to extend its own mapping.
        schema = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
