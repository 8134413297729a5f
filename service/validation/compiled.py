"""The event schemas walked once into plain-Python checks, with marshmallow as the fallback.

marshmallow spends most of a load on its own machinery (an error store, a getter closure
and a hook lookup per field, composed validators), not on the checks. Here each schema
class becomes a list of (name, check, required) built from its declared fields, and each
field of a type the model uses a lot becomes a direct check of what that type's
``_deserialize`` and validators check. A field of any other type runs its own
``_deserialize`` and validators, so the walk never restates a rule it cannot see.

A check never words an error: on anything it does not accept it raises ``Refused``, and
``load_event`` hands the document to ``schemas.Event``, which accepts or refuses it and
says why. A check may refuse more than marshmallow (that costs time, not correctness);
tests/test_compiled_validation.py checks that what it accepts, marshmallow accepts with
the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields
from marshmallow.validate import Equal, Length, OneOf, Regexp

from schemas import EVENT_KINDS, Event
from schemas import fields as model_fields

EVENT = Event()

Check = Callable[[Any], Any]


class Refused(Exception):
    """The compiled checks do not accept this value; marshmallow decides and says why."""


class NotCompilable(Exception):
    """A schema or field uses a marshmallow feature the walk does not translate."""


def _value_check(validator) -> Callable[[Any], bool] | None:
    """A predicate for a validator the walk knows, or None (then it is called as it is)."""
    if type(validator) is OneOf:
        choices = frozenset(validator.choices)
        return choices.__contains__
    if type(validator) is Regexp:
        match = validator.regex.match
        return lambda value: match(value) is not None
    if type(validator) is Equal:
        comparable = validator.comparable
        return lambda value: value == comparable
    if type(validator) is Length and validator.equal is None:
        low = 0 if validator.min is None else validator.min
        high = validator.max
        if high is None:
            return lambda value: low <= len(value)
        return lambda value: low <= len(value) <= high
    return None


def _validated(check: Check, validators) -> Check:
    """``check``, then the field's validators on its output, as ``Field.deserialize`` does."""
    predicates = [_value_check(v) for v in validators]
    if not validators:
        return check
    if all(predicates):

        def checked(value):
            output = check(value)
            for predicate in predicates:
                if not predicate(output):
                    raise Refused
            return output

        return checked

    def called(value):
        output = check(value)
        try:
            for validator in validators:
                if validator(output) is False:
                    raise Refused
        except ma.ValidationError as error:
            raise Refused from error
        return output

    return called


def _text(value):
    if type(value) is not str:
        raise Refused
    return value


def _bounded_text(field: model_fields.BoundedString) -> Check:
    limit = field.max_length

    def check(value):
        if type(value) is not str or len(value) > limit or "\x00" in value:
            raise Refused
        # TEXT_PATTERN's "something besides white space", without NUL: its white space is
        # str.isspace()'s (schemas/fields.py), so the stripped text is empty exactly when
        # the pattern would not match.
        stripped = value.strip()
        if not stripped:
            raise Refused
        return stripped

    return check


def _country(field: model_fields.CountryCode) -> Check:
    codes = frozenset(field.codes())

    def check(value):
        if type(value) is not str or value not in codes:
            raise Refused
        return value

    return check


def _partial_date(field: model_fields.PartialDate) -> Check:
    # The field's own reading (a pattern and a calendar), on a string: few, cheap checks.
    def check(value):
        if type(value) is not str:
            raise Refused
        try:
            return field._deserialize(value, None, None)
        except ma.ValidationError as error:
            raise Refused from error

    return check


def _amount(value):
    # As Amount: an int, or a finite float (NaN is not equal to itself); not a bool.
    number = type(value) is int or (type(value) is float and value == value and abs(value) != _INF)
    if number and 0 <= value <= _LARGEST:
        return value
    raise Refused


_INF = float("inf")
_LARGEST = model_fields.limits.LARGEST_AMOUNT


def _boolean(value):
    if type(value) is not bool:
        raise Refused
    return value


def _list(field: fields.List) -> Check:
    inner = _field_check(field.inner)
    limit = getattr(field, "max_items", None)

    def check(value):
        if type(value) is not list or (limit is not None and len(value) > limit):
            raise Refused
        return [inner(item) for item in value]

    return check


def _own_deserialize(field: fields.Field) -> Check:
    """The field's own ``_deserialize``: a type the walk does not spell out."""

    def check(value):
        try:
            return field._deserialize(value, field.name, None)
        except ma.ValidationError as error:
            raise Refused from error

    return check


# The field types spelled out above, by exact class (a subclass may change the rules).
_BY_TYPE: dict[type, Callable[[fields.Field], Check]] = {
    fields.String: lambda field: _text,
    model_fields.BoundedString: _bounded_text,
    model_fields.CountryCode: _country,
    model_fields.PartialDate: _partial_date,
    model_fields.Amount: lambda field: _amount,
    model_fields.StrictBoolean: lambda field: _boolean,
    model_fields.BoundedList: _list,
    fields.List: _list,
}


def _field_check(field: fields.Field) -> Check:
    """The check of one field's present value: its type's, then its validators."""
    if field.pre_load or field.post_load or field.allow_none or field.data_key is not None:
        raise NotCompilable(field)
    if type(field) is fields.Nested:
        if field.many or field.only or field.exclude or field.unknown is not None:
            raise NotCompilable(field)
        check = compile_schema(field.schema)
    else:
        check = _BY_TYPE.get(type(field), _own_deserialize)(field)
    return _validated(check, field.validators)


def _hooks(schema: ma.Schema, tag: str) -> list[Callable]:
    """The schema's hooks of ``tag`` (bound methods), in the order marshmallow runs them."""
    hooks = []
    for name, pass_collection, options in schema._hooks.get(tag, ()):
        if (
            pass_collection
            or options.get("pass_original")
            or not options.get("skip_on_field_errors", True)
        ):
            raise NotCompilable(schema, name)
        hooks.append(getattr(schema, name))
    return hooks


# Shapes (sets of names given) remembered per schema; past that, each is worked out anew.
SHAPES_KEPT = 512


def compile_schema(schema: ma.Schema) -> Check:
    """One schema's load as a plain function: a dict in, the loaded dict out, or Refused."""
    if schema.unknown != ma.RAISE or schema.many or schema.partial:
        raise NotCompilable(schema)
    if any(schema._hooks.get(tag) for tag in ("post_load", "validates", "pre_dump")):
        raise NotCompilable(schema)
    plan = []
    for name, field in schema.load_fields.items():
        if field.attribute is not None:
            raise NotCompilable(field)
        plan.append((name, _field_check(field), field.required))
    known = frozenset(name for name, _, _ in plan)
    pre_load = _hooks(schema, "pre_load")
    rules = _hooks(schema, "validates_schema")
    # The fields to check for each set of names a document gives, in declared order (the
    # loaded dict's order, as marshmallow's), keyed by the names in the document's own
    # order: documents of one writer come in a few shapes, and a schema declares many
    # optional fields a document leaves out.
    shapes: dict[tuple[str, ...], list[tuple[str, Check]] | None] = {}

    def steps(names: tuple[str, ...]) -> list[tuple[str, Check]] | None:
        """The (name, check) of each given field; None for names the schema refuses."""
        given = frozenset(names)
        if not known.issuperset(given) or any(
            required and name not in given for name, _, required in plan
        ):
            return None
        return [(name, check) for name, check, _ in plan if name in given]

    def load(data):
        if type(data) is not dict:
            raise Refused
        try:
            for hook in pre_load:
                data = hook(data, many=False, partial=None)
        except ma.ValidationError as error:
            raise Refused from error
        names = tuple(data)
        try:
            fields_given = shapes[names]
        except KeyError:
            fields_given = steps(names)
            if len(shapes) < SHAPES_KEPT:
                shapes[names] = fields_given
        if fields_given is None:
            raise Refused
        loaded = {}
        for name, check in fields_given:
            loaded[name] = check(data[name])
        try:
            for rule in rules:
                rule(loaded, original_data=data, partial=None, many=False, unknown=ma.RAISE)
        except ma.ValidationError as error:
            raise Refused from error
        return loaded

    return load


def compile_event() -> Check:
    """``schemas.Event``'s load, compiled: each kind's schema, picked by ``type``."""
    kinds = {name: compile_schema(schema()) for name, schema in EVENT_KINDS.items()}

    def load(data):
        if type(data) is not dict:
            raise Refused
        kind = kinds.get(data.get("type")) if type(data.get("type")) is str else None
        if kind is None:
            raise Refused
        return kind(data)

    return load


_COMPILED = compile_event()


def load_event(data) -> dict:
    """``schemas.Event().load(data)``: by the compiled checks when they accept it."""
    try:
        return _COMPILED(data)
    except Refused:
        return EVENT.load(data)
