"""Requests that parse two ways are refused: duplicate JSON members, a parameter given
twice, a body in another charset than UTF-8."""

from __future__ import annotations

import json

import pytest
from examples import example

PROBLEM = "application/problem+json"
DUPLICATED_TITLE = json.dumps(example())[:-1] + ', "title": "Second title"}'


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json()


def test_a_member_given_twice_is_400_naming_it(client, created):
    _, url = created(example())
    nested = '{"details": {"format": "talks", "format": "call"}}'
    for response in (
        client.post("/v1/events", data=DUPLICATED_TITLE, content_type="application/json"),
        client.put(url, data=DUPLICATED_TITLE, content_type="application/json"),
        client.patch(url, data=nested, content_type="application/merge-patch+json"),
    ):
        detail = _problem(response, 400)["detail"]
        assert '"title"' in detail or '"format"' in detail
        assert "twice" in detail
    assert client.get(url).headers["ETag"] == '"v1"'


def test_a_member_given_twice_in_a_bulk_array_is_400_and_on_an_ndjson_line_that_items_error(client):
    array = "[" + DUPLICATED_TITLE + "]"
    detail = _problem(
        client.post("/v1/events/bulk", data=array, content_type="application/json"), 400
    )["detail"]
    assert '"title"' in detail
    ndjson = json.dumps(example()) + "\n" + DUPLICATED_TITLE + "\n"
    response = client.post("/v1/events/bulk", data=ndjson, content_type="application/x-ndjson")
    assert response.status_code == 200
    first, second = response.get_json()["items"]
    assert first["outcome"] == "created"
    assert second["outcome"] == "invalid"
    assert '"title"' in second["errors"]["_body"][0]


def test_equal_names_in_different_objects_are_fine(client):
    event = example("meeting", location={"name": "Wonsan", "country": "KP"})
    assert event["title"] and event["location"]["name"]  # "name" in actors and location
    assert client.post("/v1/events", json=event).status_code == 201


@pytest.mark.parametrize(
    "query, name",
    [
        ("limit=1&limit=2", "limit"),
        ("sort=date&sort=-date", "sort"),
        ("q=a&q=b", "q"),
        ("cursor=x&cursor=y", "cursor"),
        ("date_from=2024&date_from=2025", "date_from"),
        ("bbox=0,0,1,1&bbox=0,0,2,2", "bbox"),
    ],
)
def test_a_single_value_parameter_given_twice_is_400_naming_it(client, query, name):
    errors = _problem(client.get(f"/v1/events?{query}"), 400)["errors"]
    assert list(errors) == [name]
    assert "once" in errors[name][0]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events/export?format=csv&format=ndjson",
        "/v1/actors?limit=1&limit=2",
        "/v1/changes?limit=1&limit=5",
        "/v1/events/facets?date_to=2024&date_to=2025",
    ],
)
def test_every_operation_refuses_a_repeated_single_value_parameter(client, path):
    _problem(client.get(path), 400)


def test_repeatable_parameters_still_take_several_values(client):
    assert client.get("/v1/events?type=meeting&type=visit&country=KP&country=RU").status_code == 200


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", "utf-16", "us-ascii"])
def test_a_body_in_another_charset_than_utf_8_is_415(client, created, charset):
    _, url = created(example())
    body = json.dumps(example())
    content_type = f"application/json; charset={charset}"
    for response in (
        client.post("/v1/events", data=body, content_type=content_type),
        client.put(url, data=body, content_type=content_type),
        client.patch(url, data="{}", content_type=content_type),
        client.post("/v1/events/bulk", data=f"[{body}]", content_type=content_type),
    ):
        assert charset in _problem(response, 415)["detail"]


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "Utf-8", '"utf-8"'])
def test_utf_8_is_accepted_in_any_case(client, charset):
    response = client.post(
        "/v1/events",
        data=json.dumps(example()),
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code == 201
