"""Rules of shared/ pinned one by one: checkpoint cadence by time, XML text rows, a body cut inside a character,
the timestamp fast path, setup messages, the runner's log level, the rate limiter, Retry-After spacing, OAuth
extras, epoch text, decimal scale, the checked-names cache."""

from decimal import Decimal

from shared import flatten, runner
from shared.flatten import fits_decimal, flatten_record
from shared.progress import TableProgress
from tests.conftest import ListLog

# --- flatten ------------------------------------------------------------------------------------------------------


def test_the_cache_of_checked_name_sets_stays_bounded(monkeypatch):
    """Rows whose key sets vary (optional fields) must not grow the per-process cache without end: it is a long
    sync's memory."""
    monkeypatch.setattr(flatten, "_CHECKED_NAMES", set())
    monkeypatch.setattr(flatten, "_CHECKED_NAMES_MAX", 50)
    for number in range(500):
        flatten_record({"id": number, f"field_{number}": {"a": 1}})
    assert len(flatten._CHECKED_NAMES) <= 50


def test_a_trailing_zero_after_the_point_does_not_count_against_a_scale_of_zero():
    """``10.0`` is ten: a DECIMAL(p, 0) column holds it exactly (the docstring: places that are not trailing zeros)."""
    assert fits_decimal(Decimal("10.0"), 5, 0)
    assert fits_decimal(Decimal("7.00"), 1, 0)
    assert not fits_decimal(Decimal("7.5"), 5, 0)


# --- progress -----------------------------------------------------------------------------------------------------


def test_no_checkpoint_is_due_when_no_row_came_since_the_last_however_long_ago():
    """A walk stalled on slow, empty pages must not flush the destination every page for nothing."""
    now = [0.0]
    progress = TableProgress("t", ListLog(), every_rows=100, every_seconds=30, clock=lambda: now[0])
    now[0] = 31
    assert not progress.checkpoint_due()
    progress.page_done(0)
    assert not progress.checkpoint_due()
    progress.page_done(1)
    assert progress.checkpoint_due()
    progress.checkpointed()
    now[0] = 100
    progress.page_done(0)
    assert not progress.checkpoint_due()


def test_a_checkpoint_restarts_the_time_cadence():
    """After a checkpoint the next time-based one is ``every_seconds`` later, not on every following page."""
    now = [0.0]
    progress = TableProgress("t", ListLog(), every_rows=1000, every_seconds=30, clock=lambda: now[0])
    progress.page_done(1)
    now[0] = 31
    assert progress.checkpoint_due()
    progress.checkpointed()
    now[0] = 32
    progress.page_done(1)
    assert not progress.checkpoint_due()
    now[0] = 62
    assert progress.checkpoint_due()


def test_the_time_cadence_fires_while_pages_keep_coming_and_progress_lines_are_logged():
    """Pages every second (a progress line every 10 s): 30 s after the last checkpoint one is due, so a slow walk
    of small pages still commits its cursor; the log lines do not reset that clock."""
    now = [0.0]
    progress = TableProgress("t", ListLog(), every_rows=10_000, every_seconds=30, log_every_seconds=10,
                             clock=lambda: now[0])
    due_at = None
    for second in range(1, 40):
        now[0] = float(second)
        progress.page_done(1)
        if progress.checkpoint_due():
            due_at = second
            break
    assert due_at == 30


# --- runner -------------------------------------------------------------------------------------------------------


class _SdkLogging:
    class Level:
        INFO, WARNING, FINE = "INFO", "WARNING", "FINE"

    LOG_LEVEL = None


def test_the_runners_log_level_is_left_as_it_set_it():
    """Only a missing level becomes INFO: the level the SDK's runner (or ``fivetran debug``) chose is kept."""
    logging_ = type("L", (_SdkLogging,), {"LOG_LEVEL": _SdkLogging.Level.WARNING})
    runner.default_log_level(logging_)
    assert logging_.LOG_LEVEL == "WARNING"
    unset = type("U", (_SdkLogging,), {"LOG_LEVEL": None})
    runner.default_log_level(unset)
    assert unset.LOG_LEVEL == "INFO"


# --- setup_check --------------------------------------------------------------------------------------------------

import pytest  # noqa: E402

from shared.http_client import HttpError  # noqa: E402
from shared.pagination import PaginationError  # noqa: E402
from shared.setup_check import explain_failure  # noqa: E402

SECRET = "s3cr3t-token-value"


def _raising(error):
    def check():
        raise error
    return check


@pytest.mark.parametrize("error", [HttpError(f"GET /x returned HTTP 401. Response: {SECRET}", 401),
                                   HttpError(f"GET /x returned HTTP 403. Response: {SECRET}", 403),
                                   HttpError(f"GET /x returned HTTP 404. Response: {SECRET}", 404),
                                   KeyError(f"no field {SECRET}"), RuntimeError(SECRET)])
def test_a_setup_message_never_carries_a_secret_whatever_raised(error):
    message = explain_failure(_raising(error), service="Svc", host_keys="'base_url'", secrets=(SECRET,))
    assert SECRET not in message and "***" in message


def test_a_paging_failure_is_named_an_answer_not_in_the_documented_format():
    message = explain_failure(_raising(PaginationError("the cursor repeated")), service="Svc",
                              host_keys="'base_url'")
    assert message == ("Svc answered, but not in the documented format (the cursor repeated). "
                       "Check 'base_url'.")


# --- timestamps ---------------------------------------------------------------------------------------------------

from shared import timestamps  # noqa: E402


@pytest.mark.parametrize("text", ["2024-06-15T10:00:00X", "2024-06-15 10:00:00!", "2024-06-15T10:00:005"])
def test_a_whole_seconds_time_followed_by_anything_but_z_is_refused_not_cut(text):
    """The fast path reads ``YYYY-MM-DD HH:MM:SS`` with a ``Z`` at most: a value with junk after it (a 20th
    character that is not ``Z``) is refused by the general path, not silently cut to its first 19 characters."""
    with pytest.raises(ValueError, match="unrecognised timestamp"):
        timestamps.to_utc_iso(text)
    assert timestamps.to_utc_iso("2024-06-15T10:00:00z") == "2024-06-15T10:00:00.000000Z"


def test_epoch_millis_written_as_text_with_a_point_are_read():
    """``from_epoch_millis`` takes int, float or str: ``"1700000000123.0"`` (a JSON number someone stringified) is
    the same instant as 1700000000123."""
    assert timestamps.from_epoch_millis("1700000000123.0") == timestamps.from_epoch_millis(1700000000123) == \
        "2023-11-14T22:13:20.123000Z"


def test_a_date_becomes_midnight_utc_in_the_one_output_form():
    from datetime import date
    assert timestamps.to_utc_iso(date(2024, 6, 15)) == "2024-06-15T00:00:00.000000Z"
    assert timestamps.to_utc_iso(date(999, 1, 2)) == "0999-01-02T00:00:00.000000Z"


# --- auth ---------------------------------------------------------------------------------------------------------

import responses  # noqa: E402

from shared.auth import OAuth2ClientCredentials  # noqa: E402
from shared.http_client import Client  # noqa: E402

TOKEN_URL = "https://auth.example.test/oauth2/token"
API_URL = "https://api.example.test/report"


@responses.activate
def test_oauth_extra_headers_go_on_every_api_request(sleeps):
    responses.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 3600})
    responses.get(API_URL, json={})
    http = Client()
    auth = OAuth2ClientCredentials(TOKEN_URL, "id", "client-secret-value", http, extra_headers={"X-Account": "acme"},
                                   clock=lambda: 1000.0)
    http.with_auth(auth).get(API_URL)
    api_call = responses.calls[-1].request
    assert api_call.headers["X-Account"] == "acme" and api_call.headers["Authorization"] == "Bearer tok-1"


@responses.activate
def test_a_scope_is_sent_in_the_token_request(sleeps):
    from responses import matchers
    responses.post(TOKEN_URL, json={"access_token": "tok-1"}, match=[matchers.urlencoded_params_matcher(
        {"grant_type": "client_credentials", "client_id": "id", "client_secret": "client-secret-value",
         "scope": "reports.read"})])
    responses.get(API_URL, json={})
    http = Client()
    auth = OAuth2ClientCredentials(TOKEN_URL, "id", "client-secret-value", http, scope="reports.read",
                                   clock=lambda: 1000.0)
    http.with_auth(auth).get(API_URL)
    assert auth.tokens_fetched == 1


# --- http_client --------------------------------------------------------------------------------------------------

import requests  # noqa: E402

from shared import http_client  # noqa: E402
from shared.http_client import RateLimiter, parse_retry_after  # noqa: E402


def test_a_per_minute_limit_made_with_per_holds(monkeypatch):
    now, waits = [0.0], []

    def fake_sleep(seconds):
        waits.append(round(seconds, 3))
        now[0] += seconds

    monkeypatch.setattr(http_client, "sleep", fake_sleep)
    limiter = RateLimiter.per(second=10, minute=3, clock=lambda: now[0])
    for _ in range(4):
        limiter.acquire()
    assert waits == [60.0]


def test_a_retry_after_with_spaces_around_its_number_is_honoured():
    response = requests.Response()
    response.headers.update({"Retry-After": " 7 "})
    assert parse_retry_after(response, 300) == 7.0


def test_the_limiter_waits_for_the_right_request_after_one_let_through_within_its_tolerance(monkeypatch):
    """A request let through within the 1 ms float tolerance leaves three in the window of a 2-per-second limit;
    the next must wait until only one is left in it (0.2 has left), not merely until the oldest (0.0) has."""
    now, waits = [0.0], []

    def fake_sleep(seconds):
        waits.append(round(seconds, 4))
        now[0] += seconds

    monkeypatch.setattr(http_client, "sleep", fake_sleep)
    limiter = RateLimiter([(1.0, 2)], clock=lambda: now[0])
    for at in (0.0, 0.2, 0.9995):
        now[0] = at
        limiter.acquire()
    assert waits == []  # the third was within the 1 ms tolerance
    now[0] = 0.9996
    limiter.acquire()
    assert waits == [0.2004]


# --- parsing ------------------------------------------------------------------------------------------------------

from shared.parsing import xml_rows  # noqa: E402


def test_a_row_element_holding_only_text_keeps_that_text():
    """``<row>abc</row>`` is a row whose value is its text: delivered as {"text": "abc"}, not as an empty row."""
    rows = list(xml_rows([b"<rows><row>abc</row><row/><row> </row></rows>"], root="rows", row="row"))
    assert rows == [{"text": "abc"}, {}, {}]


def test_a_child_repeated_after_one_that_matched_its_attribute_makes_a_list():
    """``<row id="1"><id>1</id><id>2</id></row>``: the first <id> agrees with the attribute; the next is a repeat."""
    rows = list(xml_rows([b'<rows><row id="1"><id>1</id><id>2</id></row></rows>'], root="rows", row="row"))
    assert rows == [{"id": ["1", "2"]}]


@responses.activate
def test_a_body_cut_inside_its_last_character_is_an_error_not_a_shorter_value(sleeps):
    """A report whose last byte is half a UTF-8 character is not read as ``Jos``: the decoder's end is checked."""
    from shared.parsing import PayloadError, csv_rows
    responses.get("https://api.example.test/report.csv", body=b"id,name\n1,Jos\xc3", content_type="text/csv")
    response = Client().get("https://api.example.test/report.csv", stream=True)
    with pytest.raises(PayloadError, match="not valid utf-8"):
        list(csv_rows(response))
