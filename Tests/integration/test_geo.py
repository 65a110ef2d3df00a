"""Geo commands against redis-server: positions, distances, hashes and searches must agree,
in the same order: Larder walks the same geohash cells as Redis."""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("LARDER_EXAMPLES", "100"))

PLACES = [("13.361389", "38.115556", "Palermo"), ("15.087269", "37.502669", "Catania"),
          ("2.3522", "48.8566", "Paris"), ("-0.1276", "51.5072", "London"), ("139.6917", "35.6895", "Tokyo"),
          ("-180", "-85.05112878", "corner"), ("180", "85.05112878", "other-corner"), ("0", "0", "origin"),
          ("12.4964", "41.9028", "Rome"), ("-73.9857", "40.7484", "NYC")]


def load(diff):
    diff.both("FLUSHALL")
    args = []
    for lon, lat, name in PLACES:
        args += [lon, lat, name]
    diff.check("GEOADD", "g", *args)


def test_points_distances_hashes(diff):
    load(diff)
    names = [p[2] for p in PLACES] + ["missing"]
    diff.check("GEOPOS", "g", *names)
    diff.check("GEOHASH", "g", *names)
    for unit in ["m", "km", "ft", "mi", "KM", "parsec"]:
        diff.check("GEODIST", "g", "Palermo", "Catania", unit)
    diff.check("GEODIST", "g", "Palermo", "missing")
    diff.check("GEODIST", "g", "corner", "other-corner")
    diff.check("GEODIST", "g", "Palermo", "Catania", "km", "extra")
    diff.check("GEODIST", "nokey", "a", "b")
    diff.check("GEOPOS", "nokey", "a")
    diff.check("ZRANGE", "g", "0", "-1", "WITHSCORES")
    # RESP3: coordinates are doubles, distances stay bulk strings.
    diff.both("HELLO", "3")
    diff.check("GEOPOS", "g", "Palermo", "missing")
    diff.check("GEOSEARCH", "g", "FROMLONLAT", "13", "38", "BYRADIUS", "500", "km", "WITHCOORD", "WITHDIST", "ASC")
    diff.check("GEORADIUS", "g", "13", "38", "500", "km", "WITHCOORD", "ASC")
    diff.check("GEORADIUSBYMEMBER_RO", "g", "Palermo", "500", "km", "WITHCOORD", "WITHHASH", "ASC")
    diff.check("GEODIST", "g", "Palermo", "Catania")
    diff.both("HELLO", "2")


def test_geoadd_options_and_errors(diff):
    load(diff)
    for args in [("GEOADD", "g", "NX", "1", "1", "Palermo"), ("GEOADD", "g", "XX", "CH", "1", "1", "Palermo"),
                 ("GEOADD", "g", "XX", "NX", "1", "1", "x"), ("GEOADD", "g", "1", "1"), ("GEOADD", "g", "181", "1", "x"),
                 ("GEOADD", "g", "1", "86", "x"), ("GEOADD", "g", "a", "1", "x"), ("GEOADD", "g", "CH", "1", "2", "new"),
                 ("SET", "str", "x"), ("GEOADD", "str", "1", "1", "x"), ("GEOPOS", "str", "x"), ("GEOSEARCH", "str", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"),
                 ("GEOPOS", "g", "Palermo")]:
        diff.check(*args)


SEARCH_ERRORS = [
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0"), ("GEOSEARCH", "g", "BYRADIUS", "10", "km"),
    ("GEOSEARCH", "g", "FROMMEMBER", "missing", "BYRADIUS", "10", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "-1", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "x", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1", "x", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "-1", "1", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "lightyear"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "ANY"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "COUNT", "0"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "STORE", "x"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "FROMMEMBER", "Rome", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"),
    ("GEOSEARCHSTORE", "dst", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "WITHDIST"),
    ("GEORADIUS", "g", "0", "0", "1", "km", "STORE", "x", "WITHCOORD"),
    ("GEORADIUS_RO", "g", "0", "0", "1", "km", "STORE", "x"),
    ("GEORADIUSBYMEMBER", "g", "missing", "1", "km"),
    ("GEORADIUSBYMEMBER", "nokey", "missing", "1", "km"),
    ("GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "x"),
    ("GEOSEARCH", "nokey", "FROMMEMBER", "a", "BYRADIUS", "1", "km"),
    ("GEORADIUS", "g", "200", "0", "1", "km"),
]


def test_search_errors(diff):
    load(diff)
    for args in SEARCH_ERRORS:
        diff.check(*args)


CENTERS = st.one_of(st.sampled_from([("FROMMEMBER", p[2]) for p in PLACES]),
                    st.tuples(st.just("FROMLONLAT"), st.sampled_from(["0", "13.3", "-73.9", "139.7", "179.9"]),
                              st.sampled_from(["0", "38.1", "40.7", "35.7", "-60"])))
SHAPES = st.one_of(st.tuples(st.just("BYRADIUS"), st.sampled_from(["0", "1", "200", "500", "2000", "10000", "20000"]),
                             st.sampled_from(["km", "mi", "m"])),
                   st.tuples(st.just("BYBOX"), st.sampled_from(["1", "400", "3000", "40000"]),
                             st.sampled_from(["1", "400", "3000", "40000"]), st.sampled_from(["km", "ft"])))
OPTIONS = st.lists(st.sampled_from(["WITHDIST", "WITHCOORD", "WITHHASH"]), unique=True)
ORDER = st.sampled_from([(), ("ASC",), ("DESC",), ("ASC", "COUNT", "3"), ("COUNT", "2"), ("DESC", "COUNT", "1")])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CENTERS, SHAPES, OPTIONS, ORDER)
def test_random_searches(diff, center, shape, options, order):
    load(diff)
    args = ("GEOSEARCH", "g", *center, *shape, *options, *order)
    diff.check(*args)
    store = ("GEOSEARCHSTORE", "dst", "g", *center, *shape, *order, "STOREDIST")
    diff.check(*store)
    diff.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    if center[0] == "FROMMEMBER" and shape[0] == "BYRADIUS":
        diff.check("GEORADIUSBYMEMBER", "g", center[1], shape[1], shape[2], *options, *order)
    if center[0] == "FROMLONLAT" and shape[0] == "BYRADIUS":
        diff.check("GEORADIUS", "g", center[1], center[2], shape[1], shape[2], *options, *order)
        diff.check("GEORADIUS", "g", center[1], center[2], shape[1], shape[2], *order, "STORE", "dst2")
        diff.check("ZRANGE", "dst2", "0", "-1", "WITHSCORES")


def test_count_any(diff):
    load(diff)
    for n in ["1", "3", "20"]:
        diff.check("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "20000", "km", "COUNT", n, "ANY")
        diff.check("GEOSEARCH", "g", "FROMMEMBER", "Rome", "BYBOX", "5000", "5000", "km", "COUNT", n, "ANY", "DESC")
