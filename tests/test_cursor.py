"""Keyset cursors, directly: a round trip, and every way a cursor is refused."""

from __future__ import annotations

import base64

import pytest

from service.http import cursor


@pytest.fixture
def context(app):
    with app.app_context():
        yield app


def test_a_cursor_stands_for_its_position_in_its_listing(context):
    position = ["2025-07-12T00:00:00Z", "0b6c6d3e-5a0e-4f5e-9d7a-6f1c2b8e4a10", 0.25]
    token = cursor.encode("events", position)
    assert cursor.decode("events", token) == position
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_cursor_of_another_listing_is_refused(context):
    with pytest.raises(cursor.BadCursor):
        cursor.decode("actors", cursor.encode("events", [1]))


def test_a_cursor_with_a_changed_position_is_refused(context):
    raw = base64.urlsafe_b64decode(cursor.encode("events", [1]) + "==")
    forged = base64.urlsafe_b64encode(raw.replace(b"[1]", b"[2]")).decode().rstrip("=")
    with pytest.raises(cursor.BadCursor):
        cursor.decode("events", forged)


def test_a_cursor_signed_with_another_secret_is_refused(context):
    token = cursor.encode("events", [1])
    context.config["SECRET_KEY"] = "another secret"
    with pytest.raises(cursor.BadCursor):
        cursor.decode("events", token)


@pytest.mark.parametrize("token", ["", "not a cursor", "%%%", "AAAA", "A" * 200, "é"])
def test_what_is_not_a_cursor_is_refused(context, token):
    with pytest.raises(cursor.BadCursor):
        cursor.decode("events", token)
