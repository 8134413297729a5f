"""JSON Merge Patch: the test vectors of RFC 7396, Appendix A, applied directly."""

from __future__ import annotations

import pytest

from service.http.merge_patch import apply

# (original, patch, result), as Appendix A lists them.
RFC_7396_VECTORS = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7396_VECTORS)
def test_merge_patch_gives_the_rfc_7396_result(original, patch, result):
    assert apply(original, patch) == result


def test_merge_patch_leaves_the_original_unchanged():
    original = {"a": {"b": "c"}, "d": [1]}
    apply(original, {"a": {"b": None}, "d": None})
    assert original == {"a": {"b": "c"}, "d": [1]}
