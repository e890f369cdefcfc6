"""A leaner `to_representation` for the serializers of the list endpoints.

DRF's `Serializer.to_representation` walks every field through `Field.get_attribute`
(a generic lookup that checks for mappings and callables on every value) and then the
field's `to_representation`, on fields deep-copied for every serializer instance. For a
list page that is most of its CPU. `LeanRepresentation` works out once per class which
fields are a plain column or property of the model (read with `getattr` and formatted
directly, by a field of the class that no instance changes) and which are methods (called
directly); every other field (nested serializers, annotations, sources with dots) goes
DRF's way, on fields of the serializer's own, copied only for those.
`bytchat/tests/test_list_endpoints.py` pins the output to DRF's, field for field, for
every serializer that uses it, so a field added later cannot come out differently.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Collection
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, fields, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField
from rest_framework.settings import api_settings


def _iso_datetime(field: fields.DateTimeField, value) -> Any:
    """DRF's DateTimeField output with the default ISO 8601 format."""
    return _iso_datetime_in(timezone.get_current_timezone(), field, value)


def _iso_datetime_in(zone, field: fields.DateTimeField, value) -> Any:
    """`_iso_datetime` in the current time zone `zone`, which a serializer reads once (it
    is a context-local lookup, a third of a page's formatting otherwise)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is not None and not hasattr(field, "timezone"):  # enforce_timezone's common case
        value = value.astimezone(zone)
    else:
        value = field.enforce_timezone(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _bool(field: fields.BooleanField, value) -> Any:
    return value if value is True or value is False else fields.BooleanField.to_representation(field, value)


def _formatter(field: fields.Field) -> Callable[[fields.Field, Any], Any] | None:
    """How to format a plain column's value for `field`, None to leave it to DRF."""
    kind = type(field)
    if kind is fields.CharField:
        return lambda field, value: str(value)
    if kind is fields.BooleanField:
        return _bool
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


# How a field of the representation plan is read.
COLUMN, METHOD, FIELD = "column", "method", "field"


def _plain_attribute(model, field: fields.Field) -> str | None:
    """The attribute of `model` that `field` shows as it is, or None: a column, a
    property, or the key of a foreign key that a primary-key field shows."""
    if len(field.source_attrs) != 1 or isinstance(
        field, (serializers.BaseSerializer, fields.SerializerMethodField)
    ):
        return None
    attribute = field.source_attrs[0]
    if type(field) is PrimaryKeyRelatedField:
        try:
            column = model._meta.get_field(attribute)
        except FieldDoesNotExist:
            return None
        # DRF shows `PKOnlyObject(serializable_value(...)).pk`: the key column as stored.
        plain = column.many_to_one and column.target_field.primary_key and field.pk_field is None
        return column.attname if plain else None
    # Relations, files (their URL depends on the request), `ModelField` (it reads the whole
    # instance) and fields defined outside DRF (which may read the context) need the
    # serializer's own field, bound to it.
    if isinstance(field, (serializers.RelatedField, fields.FileField, fields.ModelField)):
        return None
    if type(field).__module__ != fields.__name__:
        return None
    columns = {
        column.attname
        for column in model._meta.concrete_fields
        if not column.is_relation or column.attname != column.name
    }
    if attribute in columns or isinstance(getattr(model, attribute, None), property):
        return attribute
    return None


def _as_is(field: fields.Field, value) -> Any:
    return value


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

    @classmethod
    def _field_prototypes(cls) -> dict[str, fields.Field]:
        if "_lean_field_prototypes" not in cls.__dict__:
            cls().get_fields()
        return cls._lean_field_prototypes

    @classmethod
    def _class_plan(cls) -> list[tuple]:
        """(name, how, what, formatter) for each field shown, in order: a column or property
        with the class's own field to format it, a method's name, or a field to bind."""
        plan = cls.__dict__.get("_lean_class_plan")
        if plan is None:
            plan = []
            model = cls.Meta.model
            for name, field in cls._field_prototypes().items():
                if field.write_only:
                    continue
                # Binding sets `source_attrs`; on a copy, so that the prototype stays unbound.
                bound = copy.deepcopy(field)
                bound.bind(field_name=name, parent=serializers.Serializer())
                attribute = _plain_attribute(model, bound)
                if attribute is not None:
                    formatter = _as_is if type(bound) is PrimaryKeyRelatedField else _formatter(bound)
                    plan.append((name, COLUMN, (attribute, bound), formatter))
                elif isinstance(bound, fields.SerializerMethodField):
                    plan.append((name, METHOD, bound.method_name, None))
                else:
                    plan.append((name, FIELD, None, None))
            cls._lean_class_plan = plan
        return plan

    def _representation_plan(self) -> list[tuple]:
        """The class's plan with this serializer's methods and its own copies of the fields
        that go DRF's way, made once per serializer (a list shares its child)."""
        plan = self.__dict__.get("_lean_plan")
        if plan is None:
            plan = []
            zone = timezone.get_current_timezone()
            for name, how, what, formatter in self._class_plan():
                if formatter is _iso_datetime:
                    formatter = functools.partial(_iso_datetime_in, zone)
                if how == METHOD:
                    what = getattr(self, what)
                elif how == FIELD:
                    what = copy.deepcopy(self._field_prototypes()[name])
                    what.bind(field_name=name, parent=self)
                plan.append((name, how, what, formatter))
            self.__dict__["_lean_plan"] = plan
        return plan

    def to_representation(self, instance) -> dict[str, Any]:
        return self.represent(instance)

    def represent(self, instance, *, leave_out: Collection[str] = ()) -> dict[str, Any]:
        """The representation without the fields named in `leave_out`, which are not read
        at all (a serializer that hides some fields from some callers skips their work)."""
        data: dict[str, Any] = {}
        for name, how, what, formatter in self._representation_plan():
            if name in leave_out:
                continue
            if how == COLUMN:
                attribute, field = what
                value = getattr(instance, attribute)
                data[name] = None if value is None else formatter(field, value)
            elif how == METHOD:
                data[name] = what(instance)
            else:
                try:
                    value = what.get_attribute(instance)
                except SkipField:
                    continue
                check = value.pk if isinstance(value, PKOnlyObject) else value
                data[name] = None if check is None else what.to_representation(value)
        return data
