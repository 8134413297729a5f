"""near=lon,lat,km: great-circle distance search, sort=distance, distance_km in each item."""

from __future__ import annotations

import math
import random

import psycopg
import pytest

from service.storage.distance import EARTH_RADIUS_KM, LONGEST_KM, bounding_box

# name -> (lon, lat)
PLACES = {
    "kursk": (36.19, 51.73),
    "belgorod": (36.59, 50.60),  # ~128 km south of Kursk
    "moscow": (37.62, 55.76),  # ~460 km north-north-east of Kursk
    "kyiv": (30.52, 50.45),  # ~420 km west of Kursk
    "east_of_line": (179.9, -16.5),  # either side of the antimeridian, ~21 km apart
    "west_of_line": (-179.9, -16.5),
    "pole_a": (0.0, 89.9),  # either side of the North Pole, ~22 km apart
    "pole_b": (180.0, 89.9),
}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance, written out independently of the SQL under test."""
    (lon1, lat1), (lon2, lat2) = (map(math.radians, point) for point in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@pytest.fixture
def places(client) -> dict[str, str]:
    """One event at each place, plus one without coordinates; name -> id."""
    ids = {}
    for name, (lon, lat) in PLACES.items():
        response = client.post(
            "/v1/events",
            json={
                "type": "meeting",
                "title": name,
                "date": "2025-07-12",
                "location": {"name": name, "country": "RU", "lat": lat, "lon": lon},
                "sources": [{"publisher": "ANI"}],
                "certainty": "reported",
                "details": {"format": "talks"},
            },
        )
        assert response.status_code == 201
        ids[name] = response.get_json()["id"]
    response = client.post(
        "/v1/events",
        json={
            "type": "meeting",
            "title": "nowhere",
            "date": "2025-07-12",
            "sources": [{"publisher": "ANI"}],
            "certainty": "reported",
            "details": {"format": "talks"},
        },
    )
    assert response.status_code == 201
    return ids


def _near(client, near: str, extra: str = "") -> list[dict]:
    response = client.get(f"/v1/events?near={near}&limit=100{extra}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.mark.parametrize(
    ("center", "km"),
    [
        ("kursk", 100),
        ("kursk", 130),
        ("kursk", 450),
        ("kursk", 500),
        ("moscow", 1),
        ("east_of_line", 30),
        ("west_of_line", 10),
        ("pole_a", 30),
        ("pole_b", 10),
        ("kyiv", LONGEST_KM),
    ],
)
def test_near_finds_exactly_the_points_within_the_great_circle_distance(client, places, center, km):
    lon, lat = PLACES[center]
    found = {item["title"] for item in _near(client, f"{lon},{lat},{km}")}
    assert found == {
        name for name, point in PLACES.items() if haversine_km(PLACES[center], point) <= km
    }


def test_near_sorts_by_distance_and_gives_each_distance(client, places):
    lon, lat = PLACES["kursk"]
    items = _near(client, f"{lon},{lat},1000")
    assert [item["title"] for item in items] == ["kursk", "belgorod", "kyiv", "moscow"]
    for item in items:
        expected = haversine_km(PLACES["kursk"], PLACES[item["title"]])
        assert item["distance_km"] == pytest.approx(expected, abs=0.001)


def test_no_distance_km_without_near(client, places):
    items = client.get("/v1/events?limit=100").get_json()["items"]
    assert len(items) == len(PLACES) + 1
    assert all("distance_km" not in item for item in items)


def test_near_with_another_sort_keeps_that_sort_and_the_distance(client, places):
    items = _near(client, "36.19,51.73,1000", "&sort=created_at")
    assert [item["title"] for item in items] == ["kursk", "belgorod", "moscow", "kyiv"]
    assert all("distance_km" in item for item in items)


def test_distance_cursor_pages_through_every_match_once_in_order(client, places):
    url = "/v1/events?near=0,0,20000&sort=distance&limit=3"
    seen = []
    while url:
        page = client.get(url).get_json()
        seen.extend(page["items"])
        url = page["next_cursor"] and (
            f"/v1/events?near=0,0,20000&sort=distance&limit=3&cursor={page['next_cursor']}"
        )
    assert len(seen) == len(PLACES)
    distances = [item["distance_km"] for item in seen]
    assert distances == sorted(distances)


def test_facets_and_export_take_near(client, places):
    facets = client.get("/v1/events/facets?near=36.19,51.73,130").get_json()
    assert facets["total"] == 2
    export = client.get("/v1/events/export?near=36.19,51.73,130&format=ndjson")
    assert len(export.get_data(as_text=True).splitlines()) == 2


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("near=36,51", "near"),
        ("near=a,b,c", "near"),
        ("near=36,51,0", "near"),
        ("near=36,51,-5", "near"),
        ("near=181,0,5", "near"),
        ("near=0,91,5", "near"),
        ("near=0,0,30000", "near"),
        ("near=nan,0,5", "near"),
        ("near=0,0,inf", "near"),
        ("sort=distance", "sort"),
        # Plain decimals only, as the spec's pattern says (float() would take each of these).
        ("near=1e1,0,5", "near"),
        ("near= 36,51,5", "near"),
        ("near=36,51,5_0", "near"),
        ("near=.5,0,5", "near"),
        ("near=36.,51,5", "near"),
        ("near=+36,51,5", "near"),
        ("bbox=1e1,0,20,20", "bbox"),
        ("bbox=0,0,1,1,", "bbox"),
    ],
)
def test_bad_near_is_400_naming_it(client, query, name):
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert name in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("lon", "lat", "km"),
    [
        (36.19, 51.73, 150),
        (179.9, -16.5, 30),
        (-179.9, 60, 500),
        (0, 89.9, 30),
        (0, -89, 200),
        (10, 0, LONGEST_KM),
        (100, 70, 3000),
    ],
)
def test_bounding_box_holds_the_whole_circle(lon, lat, km):
    min_lon, min_lat, max_lon, max_lat = bounding_box(lon, lat, km)
    for bearing in range(0, 360, 5):
        # The point at distance km along this bearing (spherical destination formula).
        angle, theta = km / EARTH_RADIUS_KM * 0.999999, math.radians(bearing)
        phi1, lam1 = math.radians(lat), math.radians(lon)
        phi2 = math.asin(
            math.sin(phi1) * math.cos(angle) + math.cos(phi1) * math.sin(angle) * math.cos(theta)
        )
        lam2 = lam1 + math.atan2(
            math.sin(theta) * math.sin(angle) * math.cos(phi1),
            math.cos(angle) - math.sin(phi1) * math.sin(phi2),
        )
        point_lon = (math.degrees(lam2) + 540) % 360 - 180
        point_lat = math.degrees(phi2)
        assert min_lat <= point_lat <= max_lat
        if min_lon <= max_lon:
            assert min_lon <= point_lon <= max_lon
        else:  # across the antimeridian
            assert point_lon >= min_lon or point_lon <= max_lon


def test_pages_of_a_knn_walk_are_the_exact_great_circle_order(client):
    """Nearest first is read from a planar KNN walk (SearchStore._nearest): far north,
    where a degree of longitude is short, the planar order differs from the great-circle
    one, and every page still follows the exact distance, then id, to the last."""
    rng = random.Random(20)
    center = (25.0, 70.0)
    points = [(center[0] + rng.uniform(-3, 3), center[1] + rng.uniform(-1, 1)) for _ in range(60)]
    for n, (lon, lat) in enumerate(points):
        response = client.post(
            "/v1/events",
            json={
                "type": "meeting",
                "title": f"point {n}",
                "date": f"2025-07-{1 + n % 28:02d}",
                "location": {"name": f"p{n}", "country": "NO", "lat": lat, "lon": lon},
                "sources": [{"publisher": "ANI"}],
                "certainty": "reported",
                "details": {"format": "talks"},
            },
        )
        assert response.status_code == 201
    for sort in ("distance", "-date"):
        seen, cursor = [], None
        while True:
            url = f"/v1/events?near={center[0]},{center[1]},90&limit=7&sort={sort}"
            answer = client.get(url + (f"&cursor={cursor}" if cursor else "")).get_json()
            seen += answer["items"]
            cursor = answer["next_cursor"]
            if cursor is None:
                break
        expected = [p for p in points if haversine_km(center, p) <= 90]
        assert len(seen) == len(expected) == len({item["id"] for item in seen})
        for item in seen:
            point = (item["location"]["lon"], item["location"]["lat"])
            assert item["distance_km"] == pytest.approx(haversine_km(center, point), abs=5e-4)
        if sort == "distance":
            assert [i["distance_km"] for i in seen] == sorted(i["distance_km"] for i in seen)
        else:
            dates = [i["date"] for i in seen]
            assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("sort", ["distance", "-date", "created_at"])
def test_near_as_of_now_walks_to_the_same_pages(client, places, sort):
    """The walks read an as-of search's rebuilt rows too (no index there): the same
    events, in the same order, as the search of now."""
    now = client.get("/v1/events?limit=1").get_json()["items"][0]["updated_at"]
    query = f"near=36.19,51.73,500&sort={sort}&limit=2"
    pages = []
    for extra in ("", f"&as_of={now}"):
        seen, cursor = [], None
        while True:
            url = f"/v1/events?{query}{extra}" + (f"&cursor={cursor}" if cursor else "")
            answer = client.get(url)
            assert answer.status_code == 200, answer.get_json()
            seen += [item["id"] for item in answer.get_json()["items"]]
            cursor = answer.get_json()["next_cursor"]
            if cursor is None:
                break
        pages.append(seen)
    assert pages[0] == pages[1]
    assert set(pages[0]) == {places[name] for name in ("kursk", "belgorod", "moscow", "kyiv")}


@pytest.mark.parametrize("sort", ["-date", "date", "-created_at", "created_at"])
def test_a_walk_by_date_or_creation_reads_its_index_alone(
    client, places, database_url, monkeypatch, sort
):
    """The walk checks each walked row's point against the circle from the index it
    walks (migrations 0070, 0131): an index-only scan, not a table page a row."""
    statements = []
    execute = psycopg.Connection.execute

    def recording(self, query, params=None, **kwargs):
        statements.append((query, params))
        return execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recording)
    assert client.get(f"/v1/events?near=36.19,51.73,500&sort={sort}").status_code == 200
    monkeypatch.undo()
    with psycopg.connect(database_url, autocommit=True) as conn:
        texts = [(q if isinstance(q, str) else q.as_string(conn), p) for q, p in statements]
        walks = [(q, p) for q, p in texts if " AS walked " in q]
        assert len(walks) == 1
        conn.execute("VACUUM (ANALYZE) events")  # an index-only scan needs the visibility map
        conn.execute("SET enable_seqscan = off")  # a handful of rows: not worth an index here
        conn.execute("SET enable_bitmapscan = off")
        conn.execute("SET enable_sort = off")  # the walk reads an order, as at scale
        ((query, params),) = walks
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}", params))
    index = "events_start_idx" if sort.endswith("date") else "events_created_idx"
    assert f"Index Only Scan Backward using {index}" in plan or (
        f"Index Only Scan using {index}" in plan
    ), plan
