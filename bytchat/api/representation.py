"""A leaner `to_representation` for the serializers of the list endpoints.

DRF's `Serializer.to_representation` walks every field through `Field.get_attribute`
(a generic lookup that checks for mappings and callables on every value) and then the
field's `to_representation`. For a list page that is most of its CPU. `LeanRepresentation`
works out once per serializer instance (a list shares one) which fields are a plain
column of the model, reads those with `getattr` and formats them directly; every other
field (methods, nested serializers, relations, sources with dots) goes DRF's way.
`bytchat/tests/test_representation.py` pins the output to DRF's, field for field, for
every serializer that uses it, so a field added later cannot come out differently.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, fields, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings


def _iso_datetime(field: fields.DateTimeField, value) -> Any:
    """DRF's DateTimeField output with the default ISO 8601 format."""
    if isinstance(value, str):
        return value
    if value.tzinfo is not None and not hasattr(field, "timezone"):  # enforce_timezone's common case
        value = value.astimezone(timezone.get_current_timezone())
    else:
        value = field.enforce_timezone(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _formatter(field: fields.Field) -> Callable[[fields.Field, Any], Any] | None:
    """How to format a plain column's value for `field`, None to leave it to DRF."""
    kind = type(field)
    if kind is fields.CharField:
        return lambda field, value: str(value)
    if kind is fields.IntegerField:
        return lambda field, value: int(value)
    if kind is fields.FloatField:
        return lambda field, value: float(value)
    if kind is fields.UUIDField and field.uuid_format == "hex_verbose":
        return lambda field, value: str(value)
    if (
        kind is fields.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and settings.USE_TZ
    ):
        return _iso_datetime
    return type(field).to_representation


class LeanRepresentation:
    """Mix into a `ModelSerializer` (before it) whose output is read on list pages."""

    def get_fields(self) -> dict[str, fields.Field]:
        """The fields `ModelSerializer` builds from the model, built once per class: that
        build reads the model's fields and works out each one's arguments, on every
        request otherwise. Each serializer still gets fields of its own (deep copies, as
        DRF gives declared fields), bound to it alone. For serializers whose fields do not
        depend on the instance or the context, which is all those that use this."""
        cls = type(self)
        prototypes = cls.__dict__.get("_lean_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            cls._lean_field_prototypes = prototypes
        return copy.deepcopy(prototypes)

    def _representation_plan(self) -> list[tuple]:
        plan = self.__dict__.get("_lean_plan")
        if plan is None:
            model = self.Meta.model
            columns = {
                column.attname
                for column in model._meta.concrete_fields
                if not column.is_relation or column.attname != column.name
            }
            plan = []
            for field in self._readable_fields:
                attribute = field.source_attrs[0] if len(field.source_attrs) == 1 else None
                plain = attribute in columns and not isinstance(field, serializers.BaseSerializer)
                plain = plain and not isinstance(field, fields.SerializerMethodField)
                plan.append((field.field_name, field, attribute if plain else None, _formatter(field)))
            self.__dict__["_lean_plan"] = plan
        return plan

    def to_representation(self, instance) -> dict[str, Any]:
        return self.represent(instance)

    def represent(self, instance, *, leave_out: Collection[str] = ()) -> dict[str, Any]:
        """The representation without the fields named in `leave_out`, which are not read
        at all (a serializer that hides some fields from some callers skips their work)."""
        data: dict[str, Any] = {}
        for name, field, attribute, formatter in self._representation_plan():
            if name in leave_out:
                continue
            if attribute is not None:
                value = getattr(instance, attribute)
                data[name] = None if value is None else formatter(field, value)
                continue
            try:
                value = field.get_attribute(instance)
            except SkipField:
                continue
            check = value.pk if isinstance(value, PKOnlyObject) else value
            data[name] = None if check is None else field.to_representation(value)
        return data
