"""The filter language: every form, every error, the known-field list and the widget helpers."""
from datetime import date, datetime, timezone

import pytest

from imgsearch_core.search.filters.clauses import FILTER_HELP, FilterError
from imgsearch_core.search.filters.where import combine, filter_key, where_from_choices
from imgsearch_core.search.filters.parse import known_fields, parse_filter

KNOWN = known_fields([{"group": "g1", "year": 2020, "keywords": ["a"], "keywords_lc": ["a"], "media": "x.jpg"}])


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize(
    "text, where",
    [
        ("credit = Reuters", {"credit": {"$eq": "Reuters"}}),
        ("credit == Reuters", {"credit": {"$eq": "Reuters"}}),
        ("credit != AP", {"credit": {"$ne": "AP"}}),
        ('credit = "Smith, J."', {"credit": {"$eq": "Smith, J."}}),
        ("credit = 'Smith and Jones'", {"credit": {"$eq": "Smith and Jones"}}),
        ("credit = Associated Press", {"credit": {"$eq": "Associated Press"}}),
        ("credit = O'Brien", {"credit": {"$eq": "O'Brien"}}),
        ("credit = 2020", {"credit": {"$eq": "2020"}}),  # a text field keeps text
        ("year = 2020", {"year": {"$eq": 2020}}),  # a caption-file column: bare numbers are numbers
        ('year = "2020"', {"year": {"$eq": "2020"}}),
        ("city in (Kiel, Hamburg)", {"city": {"$in": ["Kiel", "Hamburg"]}}),
        ('city in ["Kiel", "Bad Oldesloe, Ost"]', {"city": {"$in": ["Kiel", "Bad Oldesloe, Ost"]}}),
        ("country not in (DE, FR)", {"country": {"$nin": ["DE", "FR"]}}),
        ("width >= 1000", {"width": {"$gte": 1000}}),
        ("width < 99.5", {"width": {"$lt": 99.5}}),
        ("width between 100 and 2000", {"$and": [{"width": {"$gte": 100}}, {"width": {"$lte": 2000}}]}),
        ("group = g1", {"group": {"$eq": "g1"}}),
        ("has caption", {"captioned": True}),
        ("has a caption", {"captioned": True}),
        ("HAS NO CAPTION", {"captioned": False}),
        ("captioned = true", {"captioned": {"$eq": True}}),
        ("captioned = false", {"captioned": {"$eq": False}}),
        ("keywords contains Harbour", {"keywords_lc": {"$contains": "harbour"}}),
        ("keywords = Harbour", {"keywords_lc": {"$contains": "harbour"}}),
        ("keywords != boat", {"keywords_lc": {"$not_contains": "boat"}}),
        ("keywords contains any (Harbour, Boat)",
         {"$or": [{"keywords_lc": {"$contains": "harbour"}}, {"keywords_lc": {"$contains": "boat"}}]}),
        ("keywords in (harbour)", {"keywords_lc": {"$contains": "harbour"}}),
    ],
)
def test_forms(text, where):
    assert parse_filter(text, KNOWN) == where


@pytest.mark.parametrize(
    "text, where",
    [
        ("date_taken >= 2020-01-01", {"date_taken_ts": {"$gte": ts(2020, 1, 1)}}),
        ("date_taken < 2021-06-30T12:00", {"date_taken_ts": {"$lt": ts(2021, 6, 30, 12)}}),
        ("date_taken < 2021-06-30T12:00+02:00", {"date_taken_ts": {"$lt": ts(2021, 6, 30, 10)}}),
        ("date_taken <= 2020-12-31", {"date_taken_ts": {"$lt": ts(2021, 1, 1)}}),  # the whole day
        ("date_taken <= 2020-12-31T08:00", {"date_taken_ts": {"$lte": ts(2020, 12, 31, 8)}}),
        ("date_taken > 2020-12-31", {"date_taken_ts": {"$gte": ts(2021, 1, 1)}}),  # after that day
        ("date_taken between 2020-01-01 and 2020-12-31",
         {"$and": [{"date_taken_ts": {"$gte": ts(2020, 1, 1)}}, {"date_taken_ts": {"$lt": ts(2021, 1, 1)}}]}),
        ("date_taken between 2020 and 2020-02",
         {"$and": [{"date_taken_ts": {"$gte": ts(2020, 1, 1)}}, {"date_taken_ts": {"$lt": ts(2020, 3, 1)}}]}),
        ("date_taken between 2020-12 and 2020-12",
         {"$and": [{"date_taken_ts": {"$gte": ts(2020, 12, 1)}}, {"date_taken_ts": {"$lt": ts(2021, 1, 1)}}]}),
        ("date_taken = 2020-05-17",
         {"$and": [{"date_taken_ts": {"$gte": ts(2020, 5, 17)}}, {"date_taken_ts": {"$lt": ts(2020, 5, 18)}}]}),
        ("date_taken = 2020-05-17T14:03:00", {"date_taken_ts": {"$eq": ts(2020, 5, 17, 14, 3)}}),
        ("added_at >= 2026-01-01", {"added_at": {"$gte": ts(2026, 1, 1)}}),  # already epoch seconds
        ('date_taken >= "2020-01-01 10:30"', {"date_taken_ts": {"$gte": ts(2020, 1, 1, 10, 30)}}),
    ],
)
def test_date_ranges_compare_epoch_seconds_on_the_twin(text, where):
    assert parse_filter(text, KNOWN) == where


def test_clauses_join_with_comma_or_and_and_between_keeps_its_and():
    expected = {"$and": [
        {"credit": {"$eq": "Reuters"}},
        {"width": {"$gte": 10}}, {"width": {"$lte": 20}},
        {"captioned": False},
        {"city": {"$ne": "Kiel"}},
    ]}
    assert parse_filter("credit = Reuters and width between 10 and 20, has no caption AND city != Kiel", KNOWN) == expected
    assert parse_filter(" credit = Reuters ,, ", KNOWN) == {"credit": {"$eq": "Reuters"}}
    assert parse_filter("", KNOWN) is None and parse_filter(None) is None and parse_filter("  ,  ") is None


def test_without_known_fields_any_name_is_accepted():
    assert parse_filter("anything = 3") == {"anything": {"$eq": 3}}


def test_json_is_validated_and_normalised():
    assert parse_filter('{"credit": "Reuters"}', KNOWN) == {"credit": "Reuters"}
    assert parse_filter('{"credit": "AP", "width": {"$gt": 5}}', KNOWN) == {"$and": [{"credit": "AP"}, {"width": {"$gt": 5}}]}
    twin = '{"$or": [{"keywords_lc": {"$contains": "boat"}}, {"date_taken_ts": {"$gte": 0}}]}'
    assert parse_filter(twin, KNOWN) == {"$or": [{"keywords_lc": {"$contains": "boat"}}, {"date_taken_ts": {"$gte": 0}}]}
    assert parse_filter('{"$and": [{"group": "g1"}]}', KNOWN) == {"group": "g1"}


def test_unknown_field_names_the_field_and_lists_the_known_ones_sorted():
    with pytest.raises(FilterError) as caught:
        parse_filter("credt = Reuters", KNOWN)
    message = str(caught.value)
    assert message.startswith("Unknown field 'credt'. Known fields: added_at, c2pa_actions,")
    listed = message.split("Known fields: ")[1].rstrip(".").split(", ")
    assert listed == sorted(listed) and {"credit", "group", "year", "keywords"} <= set(listed)
    assert not {"keywords_lc", "media", "phash", "metadata_from"} & set(listed)
    with pytest.raises(FilterError, match="Unknown field 'nope'"):
        parse_filter('{"nope": 1}', KNOWN)
    with pytest.raises(FilterError, match="Unknown field 'nope'"):
        parse_filter('{"$or": [{"credit": "AP"}, {"nope": {"$eq": 1}}]}', KNOWN)


@pytest.mark.parametrize(
    "text, message",
    [
        ("width ~ 3", "Cannot read the filter part 'width ~ 3'"),
        ("credit Reuters", "Cannot read the filter part 'credit Reuters'"),
        ("credit = Reuters city = Kiel", "Cannot read the filter part 'credit = Reuters city = Kiel'"),
        ("credit =", "A filter value is missing"),
        ('credit = "Smith, J.', "quote (\") in the filter is not closed"),
        ("credit = 'Smith", "quote (') in the filter is not closed"),
        ("city in ()", "The list after 'in' is empty"),
        ("city not in [ , ]", "The list after 'not in' is empty"),
        ("city in (Kiel, Hamburg", "no closing ')'"),
        ("city in Kiel", "'in' needs a list in brackets"),
        ("keywords contains any harbour", "'contains any' needs a list in brackets"),
        ("width >= wide", "'width' compares numbers, got 'wide'"),
        ("year > twenty", "'year' compares numbers, got 'twenty'"),
        ("width > nan", "'width' compares numbers, got 'nan'"),
        ("width = 10px", "'width' compares numbers"),
        ("width between 10", "'between' needs two values joined by 'and'"),
        ("width between 20 and 10", "starts after it ends"),
        ("credit >= 3", "'credit' is text: ranges work on numbers and dates"),
        ("captioned = maybe", "'captioned' is true or false"),
        ("date_taken >= 2020-13-01", "'date_taken' compares dates"),
        ("date_taken >= yesterday", "'date_taken' compares dates"),
        ("date_taken < 2021-06-31", "'date_taken' compares dates"),
        ("date_taken between 2021 and 2020", "starts after it ends"),
        ("date_taken != 2020", "'date_taken' is a date"),
        ("keywords > 3", "'keywords' is a list"),
        ("credit contains Reu", "contains works on list fields"),
        ("year in (2020, x)", "must all be numbers or all text"),
        ("has caption please", "Cannot read the filter part"),
        ("has width", "Cannot read the filter part 'has width'"),
        ("{bad", "not valid JSON"),
        ("{}", "non-empty object"),
        ('{"credit": {"$like": "R"}}', "Unknown operator '$like'"),
        ('{"$not": [{"credit": "R"}]}', "Unknown operator '$not'"),
        ('{"width": {"$gt": "5"}}', "compares numbers"),
        ('{"width": {"$in": []}}', "non-empty list"),
        ('{"width": {"$in": [1, "a"]}}', "one type"),
        ('{"width": {"$eq": 1, "$ne": 2}}', "one operator"),
        ('{"$and": []}', "non-empty list of filters"),
    ],
)
def test_errors_say_what_is_wrong_and_show_the_forms(text, message):
    with pytest.raises(FilterError) as caught:
        parse_filter(text, KNOWN)
    assert message in str(caught.value)
    assert FILTER_HELP in str(caught.value)


def test_known_fields_are_the_catalogue_plus_the_items_keys_without_twins_or_hidden():
    fields = known_fields([{"group": "g1", "keywords_lc": ["a"], "date_taken_ts": 5, "phash": "ab"}, {"shot_ts": 1, "shot": "x"}])
    assert fields == sorted(fields)
    assert {"credit", "date_taken", "keywords", "captioned", "group", "shot"} <= set(fields)
    assert not {"keywords_lc", "date_taken_ts", "shot_ts", "phash", "media"} & set(fields)
    assert "shot_ts" in known_fields([{"shot_ts": 1}])  # no `shot` beside it: a column of its own


def test_where_from_choices_and_combine():
    assert where_from_choices({}, [], None, None, False) is None
    where = where_from_choices({"credit": ["Reuters"], "city": ["Kiel", "Hamburg"], "country": []},
                               ["Harbour", "boat"], date(2020, 1, 1), date(2020, 12, 31), True)
    assert where == {"$and": [
        {"credit": {"$eq": "Reuters"}},
        {"city": {"$in": ["Kiel", "Hamburg"]}},
        {"$or": [{"keywords_lc": {"$contains": "harbour"}}, {"keywords_lc": {"$contains": "boat"}}]},
        {"date_taken_ts": {"$gte": ts(2020, 1, 1)}},
        {"date_taken_ts": {"$lt": ts(2021, 1, 1)}},
        {"captioned": False},
    ]}
    assert where_from_choices({"keywords": ["Boat"]}, [], None, None, False) == {"keywords_lc": {"$contains": "boat"}}
    typed = parse_filter("credit = AP, width > 3", KNOWN)
    assert combine(typed, None, {}, {"captioned": True}) == {"$and": [*typed["$and"], {"captioned": True}]}
    assert combine(None, {}) is None and combine({"a": 1}) == {"a": 1}
    assert filter_key(combine({"b": 1}, {"a": 2})) == filter_key({"$and": [{"b": 1}, {"a": 2}]}) and filter_key(None) == ""


def test_keywords_match_the_casefolded_twin_ingest_writes():
    assert parse_filter("keywords contains Straße", KNOWN) == {"keywords_lc": {"$contains": "strasse"}}
    assert where_from_choices({}, ["STRASSE"], None, None, False) == {"keywords_lc": {"$contains": "strasse"}}
