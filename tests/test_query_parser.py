"""QueryParser: list query arguments, parsed once per query string."""

import pytest
from flask import Flask
from flask_restx import inputs
from werkzeug.exceptions import BadRequest

from api.pagination import QueryParser, list_parser


@pytest.fixture
def counted_parser():
    """A list parser with a `done` argument whose conversions are counted."""
    conversions = []

    def boolean(value):
        conversions.append(value)
        return inputs.boolean(value)

    parser = list_parser("id")
    parser.add_argument("done", type=boolean, location="args")
    return parser, conversions


def parse(parser, query: str):
    with Flask(__name__).test_request_context("/?" + query):
        return parser.parse_args()


def test_a_query_string_is_parsed_once(counted_parser):
    parser, conversions = counted_parser
    first = parse(parser, "done=true&per_page=5")
    second = parse(parser, "done=true&per_page=5")
    assert (
        first
        == second
        == {
            "page": 1,
            "per_page": 5,
            "cursor": None,
            "sort": "id",
            "done": True,
        }
    )
    assert conversions == ["true"]
    assert parse(parser, "done=false")["done"] is False
    assert conversions == ["true", "false"]


def test_each_request_gets_its_own_copy(counted_parser):
    parser, _ = counted_parser
    parse(parser, "page=2")["page"] = 99
    assert parse(parser, "page=2")["page"] == 2


def test_a_bad_query_string_is_refused_every_time(counted_parser):
    parser, conversions = counted_parser
    for _ in range(2):
        with pytest.raises(BadRequest):
            parse(parser, "done=perhaps")
    assert conversions == ["perhaps", "perhaps"]


def test_a_copy_parses_its_own_arguments(counted_parser):
    parser, _ = counted_parser
    parse(parser, "q=milk")
    copy = parser.copy()
    copy.add_argument("q", location="args")
    assert parse(copy, "q=milk")["q"] == "milk"
    assert "q" not in parse(parser, "q=milk")


def test_only_query_arguments_are_accepted():
    with pytest.raises(ValueError, match="query arguments only"):
        QueryParser().add_argument("title", location="json")
