"""shared.pagination: cursor, page-number and Link-header walks with their stop rules and guards."""

import pytest
import responses
from responses import matchers

from shared.http_client import Client
from shared.pagination import PaginationError, by_cursor, by_next_link

URL = "https://api.example.test/things"


def records(body):
    return body["results"]


def cursor_of(body):
    return body["paging"]["cursor"] if body["paging"]["more"] else None


@responses.activate
def test_cursor_walk_follows_every_page_and_url_encodes_the_cursor():
    responses.get(URL, json={"results": [1, 2], "paging": {"more": True, "cursor": "a+b/c="}},
                  match=[matchers.query_param_matcher({"size": "2"})])
    responses.get(URL, json={"results": [3], "paging": {"more": False, "cursor": None}},
                  match=[matchers.query_param_matcher({"size": "2", "cursor": "a+b/c="})])
    pages = list(by_cursor(Client(), URL, params={"size": 2}, records_of=records, next_cursor_of=cursor_of))
    assert [p.records for p in pages] == [[1, 2], [3]]
    assert [p.next_token for p in pages] == ["a+b/c=", None]
    assert "cursor=a%2Bb%2Fc%3D" in responses.calls[1].request.url


@responses.activate
def test_cursor_walk_resumes_from_a_saved_cursor():
    responses.get(URL, json={"results": [9], "paging": {"more": False}},
                  match=[matchers.query_param_matcher({"cursor": "saved"})])
    pages = list(by_cursor(Client(), URL, records_of=records, next_cursor_of=cursor_of, start_cursor="saved"))
    assert pages[0].records == [9]


@responses.activate
def test_a_repeated_cursor_raises():
    responses.get(URL, json={"results": [1], "paging": {"more": True, "cursor": "same"}})
    with pytest.raises(PaginationError, match="twice"):
        list(by_cursor(Client(), URL, records_of=records, next_cursor_of=cursor_of))


@responses.activate
def test_the_page_ceiling_raises_instead_of_stopping_silently():
    for n in range(3):
        responses.get(URL, json={"results": [n], "paging": {"more": True, "cursor": f"c{n}"}})
    with pytest.raises(PaginationError, match="more than 2 pages"):
        list(by_cursor(Client(), URL, records_of=records, next_cursor_of=cursor_of, max_pages=2))


@responses.activate
def test_next_link_is_followed_verbatim_with_commas_and_relative_urls():
    second = "https://api.example.test/things?id=1,2,3&search_after=opaque%3D%3D&per_page=2"
    responses.get(URL, json=[1, 2], headers={"Link": f'<{second}>; rel="next", <{URL}?page=1>; rel="first"'},
                  match=[matchers.query_param_matcher({"per_page": "2"})])
    responses.get(second.split("?")[0], json=[3, 4], headers={"Link": '</things?search_after=x2>; rel="next"'},
                  match=[matchers.query_param_matcher({"id": "1,2,3", "search_after": "opaque==", "per_page": "2"})])
    responses.get(URL, json=[5], match=[matchers.query_param_matcher({"search_after": "x2"})])
    pages = list(by_next_link(Client(), URL, params={"per_page": 2}, records_of=lambda body: body))
    assert [p.records for p in pages] == [[1, 2], [3, 4], [5]]
    assert pages[1].next_token == "https://api.example.test/things?search_after=x2"
    assert pages[2].next_token is None


@responses.activate
def test_a_next_link_pointing_back_raises():
    responses.get(URL, json=[1], headers={"Link": f'<{URL}?a=1>; rel="next"'})
    responses.get(URL, json=[2], headers={"Link": f'<{URL}?a=1>; rel="next"'})
    with pytest.raises(PaginationError, match="repeats"):
        list(by_next_link(Client(), URL, records_of=lambda body: body))


def _body(results, cursor):
    return {"results": results, "paging": {"more": cursor is not None, "cursor": cursor}}


def _records(body):
    return body["results"]


def _cursor(body):
    return body["paging"]["cursor"]


@responses.activate
def test_a_cursor_cycle_longer_than_one_page_is_stopped():
    """A -> B -> A: the walk must stop when A comes back, not loop (and re-deliver) until max_pages."""
    responses.get(URL, json=_body([1], "A"))
    responses.get(URL, json=_body([2], "B"))
    responses.get(URL, json=_body([3], "A"))
    responses.get(URL, json=_body([4], "B"))
    responses.get(URL, json=_body([5], None))
    with pytest.raises(PaginationError, match="returned cursor 'A' twice"):
        list(by_cursor(Client(), URL, records_of=_records, next_cursor_of=_cursor))
    assert len(responses.calls) == 3


@responses.activate
def test_a_cursor_that_repeats_the_saved_start_cursor_is_stopped_at_once():
    responses.get(URL, json=_body([1], "saved"))
    responses.get(URL, json=_body([1], "saved"))
    pages = []
    with pytest.raises(PaginationError, match="returned cursor 'saved' twice"):
        for page in by_cursor(Client(), URL, records_of=_records, next_cursor_of=_cursor, start_cursor="saved"):
            pages.append(page)
    assert len(pages) == 1 and len(responses.calls) == 1  # the same page is not fetched and delivered again


@responses.activate
def test_a_next_link_back_to_the_first_page_is_stopped_at_once():
    responses.get(URL, json={"results": [1]}, headers={"Link": f'<{URL}>; rel="next"'})
    pages = []
    with pytest.raises(PaginationError, match="repeats an earlier page"):
        for page in by_next_link(Client(), URL, records_of=_records):
            pages.append(page)
    assert len(pages) == 1 and len(responses.calls) == 1


@responses.activate
def test_the_page_ceiling_is_max_pages_requests_then_a_failure():
    for n in range(5):
        responses.get(URL, json=_body([n], f"c{n}"))
    pages = []
    with pytest.raises(PaginationError, match="more than 2 pages"):
        for page in by_cursor(Client(), URL, records_of=_records, next_cursor_of=_cursor, max_pages=2):
            pages.append(page)
    assert len(pages) == 2 and len(responses.calls) == 2
