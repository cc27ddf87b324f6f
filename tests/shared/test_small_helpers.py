"""shared.flatten, shared.timestamps, shared.config, shared.progress, shared.runner and shared.state."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared import config, runner, state, timestamps
from shared.flatten import (
    FLAG_WORDS,
    column_clash,
    destination_name,
    fits_decimal,
    flatten_record,
    quoted,
    to_decimal,
    to_flag,
)
from shared.progress import TableProgress
from shared.redaction import Redactor
from tests.conftest import ListLog

# --- flatten ----------------------------------------------------------------------------------------------------


def test_nested_objects_become_underscore_columns_and_lists_json():
    record = {"id": 1, "settings": {"colors": {"primary": "#fff"}, "on": True}, "tags": ["a", "b"], "none": None}
    assert flatten_record(record) == {"id": 1, "settings_colors_primary": "#fff", "settings_on": True,
                                      "tags": '["a","b"]', "none": None}


def test_objects_below_max_depth_stay_json():
    record = {"a": {"b": {"c": {"d": 1}}}}
    assert flatten_record(record, max_depth=2) == {"a_b_c": '{"d":1}'}


def test_json_keys_keep_varying_shapes_whole_for_json_columns():
    assert flatten_record({"target": "user-1"}, json_keys={"target"}) == {"target": "user-1"}
    assert flatten_record({"target": {"id": "u"}}, json_keys={"target"}) == {"target": {"id": "u"}}
    assert flatten_record({"target": None}, json_keys={"target"}) == {"target": None}


def test_a_collision_raises_instead_of_overwriting():
    with pytest.raises(ValueError, match="'a_b' twice"):
        flatten_record({"a_b": 1, "a": {"b": 2}})


@pytest.mark.parametrize("record", [{"id": 1, "Name": "a", "name": "b"},  # flat: the fast path
                                    {"id": 1, "settings": {"Email": "a"}, "settings_email": "b"},  # flattened
                                    {"id": 1, "userId": "a", "user_id": "b"},
                                    {"id": 1, "First Name": "a", "first_name": "b"}])
def test_names_fivetran_makes_one_column_raise_instead_of_losing_a_value_in_the_destination(record):
    with pytest.raises(ValueError, match="which Fivetran names alike"):
        flatten_record(record)
    assert column_clash(["id", "Name", "NAME"]) == ("Name", "NAME") and column_clash(["id", "name"]) is None


def test_the_name_check_is_made_once_per_set_of_names_and_still_catches_a_new_set():
    for n in range(3):
        flatten_record({"id": n, "name": "x"})
    with pytest.raises(ValueError, match="which Fivetran names alike"):
        flatten_record({"id": 9, "name": "x", "NAME": "y"})


NAMES = ["id", "ID", "Name", "first name", "First Name", "firstName", "FirstName", "first_name", "first__name",
         "userID", "user.id", "user-id", "address2", "address_2", "2fa", "__fivetran_synced", "_fivetran_synced",
         "Report Date", "reportType", "Téléphone", "número", "a b", "a  b", "URL", "getHTTPResponse", "x1y2",
         "phone_number", "Phone Number", "phoneNumber", "PHONE_NUMBER", "caf\u00e9", "cafe\u0301", "名前", "été"]


@pytest.mark.parametrize("name", NAMES)
def test_destination_names_are_the_ones_the_sdks_runner_writes(name):
    """Checked against the SDK's own renaming (what ``fivetran debug`` applies), name by name."""
    from fivetran_connector_sdk_core.renaming import redshift_safe

    assert destination_name(name) == redshift_safe(name)


def test_empty_object_is_kept_as_json():
    assert flatten_record({"props": {}}) == {"props": "{}"}


def test_flatten_returns_a_copy_of_a_record_that_is_already_flat():
    record = {"id": "m1", "enqueued": 1, "error": None, "ok": True}
    flat = flatten_record(record, json_keys={"error"})
    assert flat == record and flat is not record


# --- timestamps -------------------------------------------------------------------------------------------------


def test_epoch_seconds_and_millis():
    assert timestamps.from_epoch_seconds(0) == "1970-01-01T00:00:00.000000Z"
    assert timestamps.from_epoch_millis(1562611073426) == "2019-07-08T18:37:53.426000Z"
    assert timestamps.from_epoch_millis("1562611073426") == "2019-07-08T18:37:53.426000Z"


def test_a_year_before_1000_is_padded_to_the_four_digits_the_sdk_reads():
    from fivetran_connector_sdk_cli.type_coercion import parse_utc_datetime

    written = timestamps.to_utc_iso("0001-01-01T00:00:00Z")
    assert written == "0001-01-01T00:00:00.000000Z"
    assert parse_utc_datetime(written).year == 1
    assert timestamps.utc_iso(datetime(999, 12, 31, 23, 59, 59)) == "0999-12-31T23:59:59.000000Z"


def test_iso_with_offsets_z_and_fractions():
    assert timestamps.to_utc_iso("2016-03-22T21:02:50-05:00") == "2016-03-23T02:02:50.000000Z"
    assert timestamps.to_utc_iso("2022-07-05T22:30:24.662Z") == "2022-07-05T22:30:24.662000Z"
    assert timestamps.to_utc_iso("2018-10-16 13:30:19.58") == "2018-10-16T13:30:19.580000Z"
    assert timestamps.to_utc_iso("2024-01-02") == "2024-01-02T00:00:00.000000Z"


@pytest.mark.parametrize("text", [
    "2024-01-31 13:45:00", "2024-01-31T13:45:00", "2024-01-31T13:45:00Z", "2024-01-31 13:45:00z",
    "9999-12-31T23:59:59Z", "0999-01-01 00:00:00", " 2024-01-31 13:45:00", "2024-01-31 13:45:00 ",
    "2024-02-29 00:00:00", "2024-02-30 10:00:00", "2024-01-31 25:00:00", "2024-01-31X13:45:00", "2024-1-31 13:45:00x",
    # 19 characters too, but not seconds without a zone: minutes with an hour offset, a week date
    "2016-03-22T21:02-05", "2016-03-22T21:02+02", "2016-03-22 21:02-05", "2016-W12-2T21:02:50",
])
def test_the_whole_seconds_fast_path_writes_what_the_general_path_does(text):
    try:
        general = timestamps.utc_iso(timestamps.parse_iso(text))
    except ValueError:
        with pytest.raises(ValueError, match="unrecognised timestamp"):
            timestamps.to_utc_iso(text)
    else:
        assert timestamps.to_utc_iso(text) == general


def test_vendor_formats_and_blanks():
    assert timestamps.to_utc_iso("2023/05/23 23:28:15", "%Y/%m/%d %H:%M:%S") == "2023-05-23T23:28:15.000000Z"
    assert timestamps.to_utc_iso("2023/12/18", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d") == "2023-12-18T00:00:00.000000Z"
    assert timestamps.to_utc_iso(" ") is None
    assert timestamps.to_utc_iso(None) is None
    with pytest.raises(ValueError, match="unrecognised"):
        timestamps.to_utc_iso("yesterday")


def test_naive_values_can_be_read_in_another_zone():
    plus_ten = timezone(timedelta(hours=10))
    moment = timestamps.parse_format("2023/05/23 10:00:00", "%Y/%m/%d %H:%M:%S", assume=plus_ten)
    assert timestamps.utc_iso(moment) == "2023-05-23T00:00:00.000000Z"


def test_output_sorts_as_text_in_time_order():
    values = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.5Z", "2019-12-31T23:59:59.999+00:00"]
    converted = [timestamps.to_utc_iso(v) for v in values]
    assert sorted(converted) == [converted[2], converted[0], converted[1]]
    assert timestamps.parse_utc(converted[1]) == datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)


# --- config -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["<YOUR_API_KEY>", "your_client_id_here", "YOUR_ACCOUNT", " <x> "])
def test_placeholders_are_rejected_naming_the_key(value):
    with pytest.raises(config.ConfigError, match="'api_key' still holds the template placeholder"):
        config.text({"api_key": value}, "api_key", required=True)


def test_the_placeholder_advice_offers_removal_only_for_an_optional_key():
    with pytest.raises(config.ConfigError, match="placeholder .*; replace it with a real value$"):
        config.text({"api_key": "<YOUR_API_KEY>"}, "api_key", required=True)
    with pytest.raises(config.ConfigError, match="; replace it with a real value or remove it$"):
        config.text({"region": "<YOUR_REGION>"}, "region")
    with pytest.raises(config.ConfigError, match="; replace it with a real value or remove it$"):
        config.integer({"n": "<PAGE_SIZE>"}, "n", default=500)


def test_an_optional_key_left_at_its_template_placeholder_takes_its_default():
    """configuration.json writes optional keys as <OPTIONAL_..._DEFAULT_x>: filling only the required keys works."""
    assert config.integer({"n": "<OPTIONAL_PAGE_SIZE_DEFAULT_500>"}, "n", default=500) == 500
    assert config.url({"u": " <optional_base_url> "}, "u", default="https://d") == "https://d"
    with pytest.raises(config.ConfigError, match="'api_key' is required"):
        config.text({"api_key": "<OPTIONAL_KEY>"}, "api_key", required=True)


def test_secret_values_are_not_echoed():
    with pytest.raises(config.ConfigError) as error:
        config.text({"api_key": "<my-secret-ish>"}, "api_key", secret=True)
    assert "my-secret-ish" not in str(error.value)


def test_required_and_defaults():
    with pytest.raises(config.ConfigError, match="'api_key' is required"):
        config.text({}, "api_key", required=True)
    assert config.text({"x": "  "}, "x", default="d") == "d"
    assert config.integer({}, "n", default=3) == 3


def test_integer_range_and_form():
    assert config.integer({"n": "42"}, "n", default=1, minimum=1, maximum=500) == 42
    for bad in ("0", "501", "4.5", "ten", "true"):
        with pytest.raises(config.ConfigError, match="'n': expected an integer from 1 to 500"):
            config.integer({"n": bad}, "n", default=1, minimum=1, maximum=500)


def test_number_boolean_day_choice_items_url():
    assert config.number({"r": "0.5"}, "r", default=None, minimum=0.01) == 0.5
    with pytest.raises(config.ConfigError, match="'r'"):
        config.number({"r": "fast"}, "r", default=None)
    assert config.boolean({"b": "TRUE"}, "b", default=False) is True
    assert config.boolean({"b": "no"}, "b", default=True) is False
    with pytest.raises(config.ConfigError, match="'b': expected true or false"):
        config.boolean({"b": "maybe"}, "b", default=False)
    assert config.day({"d": "2024-02-29"}, "d") == date(2024, 2, 29)
    with pytest.raises(config.ConfigError, match="'d': expected a date as YYYY-MM-DD"):
        config.day({"d": "2023-02-29"}, "d")
    assert config.choice({"region": "AU"}, "region", ["global", "au"], default="global") == "au"
    with pytest.raises(config.ConfigError, match="one of global, au"):
        config.choice({"region": "mars"}, "region", ["global", "au"], default="global")
    assert config.items({"t": "calls, audit,calls"}, "t", options=["calls", "audit"]) == ["calls", "audit"]
    with pytest.raises(config.ConfigError, match="'t'"):
        config.items({"t": "calls,bogus"}, "t", options=["calls", "audit"])
    assert config.url({"u": "https://api.example.com/"}, "u", default="https://d") == "https://api.example.com"
    with pytest.raises(config.ConfigError, match="'u': expected an https URL"):
        config.url({"u": "ftp://x"}, "u", default="https://d")


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "nan"])
def test_a_number_that_is_not_finite_names_the_key(value):
    with pytest.raises(config.ConfigError, match="'r': expected a number of at least 0.01"):
        config.number({"r": value}, "r", default=None, minimum=0.01)


@pytest.mark.parametrize("value", ["abcd\nefgh", "abcd\refgh", "ab\tcd", "abcd\x00"])
def test_a_secret_with_a_line_break_inside_is_refused_without_echoing_it(value):
    with pytest.raises(config.ConfigError, match="'api_key' contains a line break") as error:
        config.text({"api_key": value}, "api_key", secret=True)
    assert "abcd" not in str(error.value) and "ab" not in str(error.value).split("'api_key'")[1]
    assert config.text({"api_key": "  abcd efgh \n"}, "api_key", secret=True) == "abcd efgh"  # only the ends


def test_plain_http_urls_are_for_this_machine_only():
    """A bearer token or signature must not cross a network in clear text; a local fake may use http."""
    for local in ("http://127.0.0.1:8080/api", "http://localhost:5000", "http://[::1]:9000/x", "http://[::1]"):
        assert config.url({"u": local}, "u", default="https://d") == local
    for remote in ("http://api.example.com", "http://10.0.0.5:8080", "http://127.0.0.1.example.com"):
        with pytest.raises(config.ConfigError, match="'u': expected https \\(plain http only for 127.0.0.1"):
            config.url({"u": remote}, "u", default="https://d")


# --- progress ---------------------------------------------------------------------------------------------------


def test_checkpoint_cadence_by_rows_and_time(log):
    now = [0.0]
    progress = TableProgress("brand", log, every_rows=100, every_seconds=30, clock=lambda: now[0])
    assert not progress.checkpoint_due()
    progress.page_done(60)
    assert not progress.checkpoint_due()
    progress.page_done(60)
    assert progress.checkpoint_due()
    progress.checkpointed()
    progress.page_done(1)
    assert not progress.checkpoint_due()
    now[0] = 31
    assert progress.checkpoint_due()


def test_progress_lines_are_rate_limited_and_a_closing_line_counts_rows(log):
    now = [0.0]
    progress = TableProgress("message", log, log_every_seconds=10, clock=lambda: now[0])
    for _ in range(5):
        progress.page_done(10)
    now[0] = 11
    progress.page_done(10)
    progress.finished()
    lines = [m for _, m in log.lines]
    assert lines == ["message: sync started", "message: 60 rows so far from 6 pages",
                     "message: 60 rows delivered from 6 pages"]


def test_skipped_rows_count_for_the_cadence_but_not_in_the_lines(log):
    progress = TableProgress("users", log, every_rows=100, log_every_seconds=0, clock=lambda: 0.0)
    progress.page_done(100, skipped=100)
    assert progress.checkpoint_due()  # the page moved the cursor, so its checkpoint is still due
    progress.page_done(50, skipped=20)
    progress.finished()
    lines = [m for _, m in log.lines]
    assert lines[-2:] == ["users: 30 rows so far from 2 pages", "users: 30 rows delivered from 2 pages"]


def test_truncate_without_a_runner_is_skipped_with_a_warning_and_other_errors_raise(log):
    class NoRunner:
        @staticmethod
        def truncate(table, **_):
            raise RuntimeError("no runner is installed: operations can only be called while the runner executes")

    class Broken:
        @staticmethod
        def truncate(table, **_):
            raise RuntimeError("something else")

    runner.truncate_table(NoRunner, "brand", log)
    assert "brand: no SDK runner" in log.text()
    with pytest.raises(RuntimeError, match="something else"):
        runner.truncate_table(Broken, "brand", log)



def test_a_saved_value_that_does_not_parse_names_the_key_and_the_fix():
    assert state.saved(date.fromisoformat, "2024-01-02", "calls last_day_delivered", "a date") == date(2024, 1, 2)
    for bad in (20240102.5, None, "02/01/2024", [1]):
        with pytest.raises(state.StateError, match=r"saved state's calls last_day_delivered .* is not a date as this "
                                                   r"connector writes it; reset the connector's state"):
            state.saved(date.fromisoformat, bad, "calls last_day_delivered", "a date")


def test_a_table_entry_is_created_on_a_first_sync_and_must_be_an_object():
    saved_state: dict = {}
    assert state.table_entry(saved_state, "calls") == {} and saved_state == {"calls": {}}
    with pytest.raises(state.StateError, match="saved state's 'calls' entry is 'x', not an object"):
        state.table_entry({"calls": "x"}, "calls")


def test_saved_days_and_times_are_read_in_any_plain_form_and_nothing_else():
    assert state.day("2024-06-15") == state.day("2024-06-15T00:00:00Z") == date(2024, 6, 15)
    assert state.day("2024-06-15T23:00:00-05:00") == date(2024, 6, 16)  # its UTC day
    assert state.day("2024/06/15", "%Y/%m/%d") == date(2024, 6, 15)
    assert state.moment("2020/01/03 06:00:00", "%Y/%m/%d %H:%M:%S") == datetime(2020, 1, 3, 6, tzinfo=timezone.utc)
    for bad in (20240615, None, "15/06/2024", "yesterday"):
        with pytest.raises((TypeError, ValueError)):
            state.day(bad)


def test_a_saved_position_after_the_latest_possible_one_restarts_with_a_warning():
    log = ListLog()
    latest, restart = date(2024, 6, 14), date(2024, 6, 12)
    assert state.not_in_future(date(2024, 6, 14), latest, restart=restart, what="x cursor", log=log) == latest
    assert log.lines == []  # the latest itself is a position a sync can save
    assert state.not_in_future(date(2024, 7, 1), latest, restart=restart, what="x cursor", log=log) == restart
    moment = datetime(2024, 6, 14, 5, 30, 0, 123, tzinfo=timezone.utc)
    state.not_in_future(moment + timedelta(days=1), moment, restart=moment, what="x at", log=log)
    assert log.lines == [
        ("WARNING", "the saved state's x cursor 2024-07-01 is after 2024-06-14, the latest a sync could have saved by "
                    "now (did the host clock run ahead?); going on from 2024-06-12 instead"),
        ("WARNING", "the saved state's x at 2024-06-15T05:30:00+00:00 is after 2024-06-14T05:30:00+00:00, the latest "
                    "a sync could have saved by now (did the host clock run ahead?); going on from "
                    "2024-06-14T05:30:00+00:00 instead")]


def test_flags_read_the_words_given_blank_is_none_and_anything_else_refused():
    assert [to_flag(v) for v in (True, "1", " TRUE ", "0", "false", None, "", " ")] == [
        True, True, True, False, False, None, None, None]
    assert to_flag("Yes", {**FLAG_WORDS, "yes": True}) is True
    with pytest.raises(ValueError, match="expected a boolean \\(true, false, 1, 0\\), got 'yes'"):
        to_flag("yes")


def test_to_decimal_reads_numbers_exactly_and_refuses_everything_else():
    assert [to_decimal(v) for v in (" 296.7600 ", "-1E+3", ".5", 0.1, 12, None, "", "  ")] == [
        Decimal("296.7600"), Decimal("-1E+3"), Decimal("0.5"), Decimal("0.1"), Decimal(12), None, None, None]
    for bad in (True, "N/A", "1,234.50", "1_000", "NaN", "Infinity", float("nan"), float("inf"), [1], "12e"):
        with pytest.raises(ValueError, match="expected a number"):
            to_decimal(bad)


def test_fits_decimal_counts_the_digits_a_decimal_column_keeps():
    fits = [("99999999999999.9999", True), ("-296.7600", True), ("1234567.12340", True), ("1E+3", True),
            ("0.000000", True), ("0", True), ("1234567.12345", False), ("123456789012345.6789", False),
            ("1E+14", False), ("1E-5", False), ("1E-999999", False), ("1E+999999", False)]
    assert [(text, fits_decimal(Decimal(text), 18, 4)) for text, _ in fits] == fits
    assert fits_decimal(Decimal("9" * 32 + "." + "1" * 6), 38, 6)  # more digits than Decimal's 28-digit context
    assert not fits_decimal(Decimal("9" * 32 + "." + "1" * 7), 38, 6)


def test_quoted_shows_a_value_as_its_repr_cut_to_a_length():
    assert [quoted(v) for v in ("", "N/A", 12, None)] == ["''", "'N/A'", "12", "None"]
    assert quoted("x" * 100, 20) == "'" + "x" * 16 + "..." and len(quoted("x" * 100, 20)) == 20


@pytest.mark.parametrize("value", ["paste_token_here", "api_key_here"])
def test_a_placeholder_ending_in_here_is_rejected_naming_the_key(value):
    with pytest.raises(config.ConfigError, match="'api_key' still holds the template placeholder"):
        config.text({"api_key": value}, "api_key", required=True, secret=True)


def test_a_start_date_of_today_is_accepted():
    """Only a day after today is refused; today itself (a connector set up today) is a valid start."""
    from datetime import date
    today = date(2026, 3, 15)
    assert config.day({"start_date": "2026-03-15"}, "start_date", today=today) == today
    with pytest.raises(config.ConfigError, match="'start_date': expected a day no later than today"):
        config.day({"start_date": "2026-03-16"}, "start_date", today=today)


def test_a_list_with_no_item_is_refused_not_empty():
    with pytest.raises(config.ConfigError, match="'kinds': expected a comma-separated list of a, b"):
        config.items({"kinds": " , ,"}, "kinds", options=("a", "b"), default=("a", "b"))


def test_a_secret_that_contains_another_is_removed_whole():
    """E.g. a client id that is the start of the client secret: the shorter one must not cut the longer one apart
    and leave the rest of it readable."""
    from shared.redaction import Redactor
    redactor = Redactor(["acme", "acme-S3cr3tTail"])
    text = redactor.redact("client_id acme, client secret acme-S3cr3tTail")
    assert "S3cr3tTail" not in text and "acme" not in text


def test_a_four_character_secret_is_masked():
    from shared.redaction import Redactor
    assert Redactor(["Zq9!"]).redact("GET /x failed for Zq9! and Zq9%21") == "GET /x failed for *** and ***"


def test_fractions_are_padded_or_cut_to_six_digits_for_python_3_10():
    """Python 3.10's fromisoformat takes only 3 or 6 fractional digits (3.11 takes any): the text handed to it has 6,
    so a 3.10 runner reads `.58` and `.1234567` as newer ones do."""
    assert timestamps._trim_fraction("2018-10-16 13:30:19.58") == "2018-10-16 13:30:19.580000"
    assert timestamps._trim_fraction("2018-10-16T13:30:19.1234567+02:00") == "2018-10-16T13:30:19.123456+02:00"
    assert timestamps._trim_fraction("2018-10-16T13:30:19Z") == "2018-10-16T13:30:19Z"


@pytest.mark.parametrize("value", ["https://[api.example.com/v1", "https://api.example.com]/v1",
                                   "https://api.example.com:port/v1"])
def test_a_url_urllib_cannot_split_fails_naming_the_key(value):
    """The pattern alone let a stray bracket through; urllib then raised a bare "Invalid IPv6 URL" naming nothing."""
    with pytest.raises(config.ConfigError, match="configuration key 'base_url': expected an https URL"):
        config.url({"base_url": value}, "base_url", default="https://api.example.com")


def test_a_secret_is_removed_stripped_and_as_a_repr_quotes_one_with_both_quote_characters():
    assert Redactor(["Zq9Secret0123\n"]).redact("got 'Zq9Secret0123'") == "got '***'"
    both = "Zq9'Secret\"0123"
    assert Redactor([both]).redact(f"got {both!r}") == "got '***'"
