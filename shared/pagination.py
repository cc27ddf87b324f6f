"""Paging loops as plain generators, one per style, each with one explicit stop rule.

Every generator yields ``Page(records, response, next_token)``; ``next_token`` is what resumes the walk after this
page (a cursor, a URL or a page number; None on the last page), so a connector can checkpoint it.
Guards: a repeated cursor or URL raises (it would loop forever), and so does passing ``max_pages`` (a ceiling is
a failure, never a silent stop).

Public: Page, PaginationError, PAGE_FAILURES, by_cursor, by_next_link, next_link
"""

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from urllib.parse import urljoin

import requests

from shared.http_client import HttpError, TransportError
from shared.parsing import PayloadError, json_body

DEFAULT_MAX_PAGES = 1_000_000


class Page(NamedTuple):
    records: list
    response: requests.Response
    next_token: Any


class PaginationError(Exception):
    """The API's paging signals are inconsistent (repeated cursor, 'more' without a cursor, too many pages)."""


# What fetching the next page can raise once retries are spent: a connector that checkpoints at a cadence
# catches these to checkpoint the pages it has delivered before failing, so the next sync resumes at the failed page.
PAGE_FAILURES = (HttpError, TransportError, PayloadError, PaginationError)


def by_cursor(http, url: str, *, records_of: Callable[[Any], list], next_cursor_of: Callable[[Any], str | None],
              params: dict | None = None, cursor_param: str = "cursor", start_cursor: str | None = None,
              max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Page]:
    """Opaque cursor in the query string (URL-encoded by requests). Stops when ``next_cursor_of`` returns None."""
    cursor = start_cursor
    seen: set[int] = set()  # hashes, not the cursors: a walk of 100,000 small pages would hold every cursor
    for _ in range(max_pages):
        query = dict(params or {})
        if cursor:
            query[cursor_param] = cursor
        response = http.get(url, params=query)
        body = json_body(response, getattr(http, "redactor", None))
        next_cursor = next_cursor_of(body)
        yield Page(records_of(body), response, next_cursor)
        if not next_cursor:
            return
        if hash(next_cursor) in seen or next_cursor == cursor:
            raise PaginationError(f"{_path(url)}: the API returned cursor {next_cursor!r} twice; stopping a loop")
        seen.add(hash(next_cursor))
        cursor = next_cursor
    raise PaginationError(f"{_path(url)}: more than {max_pages} pages; raise max_pages if this is expected")


def by_next_link(http, url: str, *, records_of: Callable[[Any], list], params: dict | None = None,
                 follow: Callable[[str], str] | None = None, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Page]:
    """Follow the ``Link: <...>; rel="next"`` header verbatim; stops when a page has no next link.

    ``params`` apply to the first request only: a next link already carries the whole query. ``follow`` maps a
    next link to the URL asked for (say, onto the configured host), or raises to refuse it.
    """
    next_url, query = url, params
    seen = {hash(url)}  # hashes: the links of a long walk are long strings
    for _ in range(max_pages):
        response = http.get(next_url, params=query)
        body = json_body(response, getattr(http, "redactor", None))
        following = next_link(response)
        if following is not None and follow is not None:
            following = follow(following)
        yield Page(records_of(body), response, following)
        if following is None:
            return
        if hash(following) in seen:
            raise PaginationError(f"{_path(url)}: the next link repeats an earlier page; stopping a loop")
        seen.add(hash(following))
        next_url, query = following, None
    raise PaginationError(f"{_path(url)}: more than {max_pages} pages; raise max_pages if this is expected")


def next_link(response: requests.Response) -> str | None:
    """The absolute URL of ``rel="next"`` (relative links resolved against the request URL), or None."""
    link = response.links.get("next")
    if not link or not link.get("url"):
        return None
    return urljoin(response.url, link["url"])


def _path(url: str) -> str:
    return url.split("?", 1)[0]
