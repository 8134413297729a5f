"""Great-circle distance in SQL, and the bounding box that lets an index find the candidates.

The embedded PostgreSQL has no PostGIS, so ``near=`` is two steps: a box around the
circle, which the GiST index on ``point(lon, lat)`` answers, then the exact haversine
distance on the rows inside the box only.
"""

from __future__ import annotations

import math

from psycopg import sql

# Mean Earth radius (IUGG), km: the sphere the haversine distance is measured on.
EARTH_RADIUS_KM = 6371.0088
# Half the circumference: no two points are further apart, so this radius covers the Earth.
LONGEST_KM = round(math.pi * EARTH_RADIUS_KM, 1)

# Haversine, from the `near` point (placeholders near_lon, near_lat) to the row's point.
# least(1, …) keeps asin's argument in its domain when rounding overshoots.
DISTANCE_KM = sql.SQL(
    "(2 * {radius} * asin(least(1, sqrt("
    "power(sin(radians(lat - %(near_lat)s::float8) / 2), 2)"
    " + cos(radians(%(near_lat)s::float8)) * cos(radians(lat))"
    " * power(sin(radians(lon - %(near_lon)s::float8) / 2), 2)))))"
).format(radius=sql.Literal(EARTH_RADIUS_KM))


def bounding_box(lon: float, lat: float, km: float) -> tuple[float, float, float, float]:
    """The smallest lon/lat box holding every point within ``km`` of (lon, lat).

    As ``bbox=`` takes it: minLon,minLat,maxLon,maxLat, minLon > maxLon across the
    antimeridian, the full longitude range when the circle holds a pole or wraps around.
    """
    angle = km / EARTH_RADIUS_KM  # radians of arc
    min_lat, max_lat = lat - math.degrees(angle), lat + math.degrees(angle)
    if min_lat <= -90 or max_lat >= 90:
        # The circle holds a pole: every longitude comes within reach.
        return -180.0, max(min_lat, -90.0), 180.0, min(max_lat, 90.0)
    # The circle's widest longitude is reached where it touches a meridian, not on the
    # centre's parallel: asin(sin(angle) / cos(lat)).
    half_width = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    if half_width >= 180:
        return -180.0, min_lat, 180.0, max_lat
    west, east = lon - half_width, lon + half_width
    if west < -180:
        west += 360
    if east > 180:
        east -= 360
    return west, min_lat, east, max_lat
