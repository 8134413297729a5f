"""A subscription's filter: the search parameters, validated exactly as search does.

The same schema as ``GET /v1/events`` (``search_args.FilterArgs``) loads it, given as a
JSON object: a list for a parameter that repeats, a string for one that does not. Only
``as_of`` is left out: a subscription follows the present.
"""

from __future__ import annotations

import json

from service.http.search_args import FilterArgs


class ChangeFilter(FilterArgs):
    """Which changes a subscription takes: ``{}`` takes all."""

    class Meta:
        exclude = ("as_of",)


FILTER = ChangeFilter()
_loaded: dict[str, dict] = {}


def search_args(stored: dict) -> dict:
    """The search arguments of a stored filter (validated when it was stored)."""
    key = json.dumps(stored, sort_keys=True)
    if key not in _loaded:
        _loaded[key] = FILTER.load(stored)
    return _loaded[key]
