"""Rows and keys of one report: added columns, trimming, and keys derived from content when a row has none."""

import random
import re
from datetime import date

import pytest

from shared.parsing import PayloadError
from tests.harness import run_update
from tests.pindrop.conftest import day, rows_by_day

DAY = date(2026, 3, 1)


def records(module, text: str, key: str = "id", report_type: str = "audit") -> list[dict]:
    """The destination rows of a report body (fed in small text chunks, as a stream would be)."""
    chunks = [text[i:i + 7] for i in range(0, len(text), 7)]
    return list(module.report_records(chunks, report_type, DAY, key))


def test_added_columns_come_first_then_every_csv_column_trimmed(pindrop):
    rows = records(pindrop, 'id,Caller Name,notes\r\n 7 ,  Ann ,""\r\n8,"Bo, ""B""\nline 2",x\r\n', report_type="calls")
    assert rows == [
        {"report_date": "2026-03-01", "report_type": "calls", "id": "7", "Caller Name": "Ann", "notes": None},
        {"report_date": "2026-03-01", "report_type": "calls", "id": "8", "Caller Name": 'Bo, "B"\nline 2',
         "notes": "x"},
    ]


def test_a_bom_does_not_become_part_of_the_first_column(pindrop):
    assert records(pindrop, "\ufeffid,a\n1,x\n")[0]["id"] == "1"


def test_without_a_key_column_the_key_is_derived_from_content(pindrop):
    rows = records(pindrop, "user,action\nann,login\nbob,login\n")
    keys = [row["id"] for row in rows]
    assert all(key.startswith("row-") and key.endswith("-1") for key in keys)
    assert len(set(keys)) == 2


def test_identical_rows_stay_distinct_by_occurrence(pindrop):
    rows = records(pindrop, "user,action\nann,login\nann,login\nbob,x\nann,login\n")
    keys = [row["id"] for row in rows]
    assert len(set(keys)) == 4
    digest = keys[0].rsplit("-", 1)[0]
    assert [keys[0], keys[1], keys[3]] == [f"{digest}-1", f"{digest}-2", f"{digest}-3"]


def test_derived_keys_are_stable_across_downloads_and_row_orders(pindrop):
    lines = [f"user{n % 5},action{n % 3},note {n % 4}" for n in range(60)]  # many identical rows
    first = records(pindrop, "user,action,note\n" + "\n".join(lines) + "\n")
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    again = records(pindrop, "user,action,note\n" + "\n".join(shuffled) + "\n")

    def by_key(rows):
        return {row["id"]: (row["user"], row["action"], row["note"]) for row in rows}

    assert by_key(first) == by_key(again)
    assert len(by_key(first)) == 60


def test_column_order_padding_and_empty_values_do_not_change_a_derived_key(pindrop):
    one = records(pindrop, "user,action,note\nann,login,\n")[0]["id"]
    two = records(pindrop, 'note,action,user\n"",  login , ann\n')[0]["id"]
    assert one == two


def test_a_key_column_with_an_empty_value_gets_a_derived_key(pindrop):
    rows = records(pindrop, "id,name\n1,a\n,b\n  ,b\n,c\n", report_type="enrollment")
    keys = [row["id"] for row in rows]
    assert keys[0] == "1"
    assert all(key.startswith("row-") for key in keys[1:])
    assert keys[1].rsplit("-", 1)[0] == keys[2].rsplit("-", 1)[0]  # same content: occurrence 1 and 2
    assert len(set(keys)) == 4


def test_blacklist_derives_its_phone_number_key_the_same_way(pindrop):
    rows = records(pindrop, "phone_number,reason\n+15551234567,fraud\n,unknown\n", key="phone_number",
                   report_type="blacklist")
    assert rows[0]["phone_number"] == "+15551234567"
    assert rows[1]["phone_number"].startswith("row-") and "id" not in rows[1]


def test_columns_that_clash_with_added_or_reserved_names_are_prefixed(pindrop):
    rows = records(pindrop, "id,report_date,report_type,_fivetran_synced\n1,2020-01-01,x,y\n")
    assert rows[0] == {"report_date": "2026-03-01", "report_type": "audit", "id": "1",
                       "csv_report_date": "2020-01-01", "csv_report_type": "x", "csv__fivetran_synced": "y"}


def test_a_key_column_in_another_case_or_with_spaces_is_the_key(pindrop):
    """Header names are trimmed, and the key matches in any case: destinations fold column names to one case."""
    rows = records(pindrop, "ID , Caller Name ,REPORT_DATE\n7,Ann,2020-01-01\n", report_type="calls")
    assert rows == [{"report_date": "2026-03-01", "report_type": "calls", "id": "7", "Caller Name": "Ann",
                     "csv_REPORT_DATE": "2020-01-01"}]
    blacklist = records(pindrop, "Phone_Number,reason\n+15550100,fraud\n", key="phone_number",
                        report_type="blacklist")
    assert blacklist[0]["phone_number"] == "+15550100" and "Phone_Number" not in blacklist[0]
    with pytest.raises(PayloadError, match=r"\['ID', 'id'\] would fill the same column"):
        records(pindrop, "id,ID\n1,2\n")


@pytest.mark.parametrize("header, clashing", [
    ("id,Status,status", "['Status', 'status']"),
    ("id,First Name,first_name", "['First Name', 'first_name']"),
    ("id,userId,user_id", "['userId', 'user_id']"),
    ("id,a b,a  b", "['a  b', 'a b']"),
])
def test_header_names_fivetran_names_alike_fail_instead_of_losing_a_value(pindrop, header, clashing):
    """Fivetran renames columns to lower snake case: such two names would be one column, one value lost."""
    with pytest.raises(PayloadError, match=re.escape(f"{clashing} would fill the same column")):
        records(pindrop, f"{header}\n1,A,B\n")


@pytest.mark.parametrize("header", ["Phone Number", "phoneNumber", "PHONE-NUMBER"])
def test_a_key_header_in_any_spelling_fivetran_names_like_the_key_is_the_key(pindrop, header):
    """Else the row would carry both the header's value and a derived key under names that become one column:
    the destination keeps one, and an empty phone number would then be a null key."""
    rows = records(pindrop, f"{header},reason\n+15550100,fraud\n,unknown\n", key="phone_number",
                   report_type="blacklist")
    assert [sorted(row) for row in rows] == [["phone_number", "reason", "report_date", "report_type"]] * 2
    assert rows[0]["phone_number"] == "+15550100" and rows[1]["phone_number"].startswith("row-")


def test_columns_named_like_added_or_platform_columns_in_any_spelling_are_prefixed(pindrop):
    rows = records(pindrop, "id,Report Date,reportType,__fivetran_synced\n1,2020-01-01,x,y\n")
    assert rows[0] == {"report_date": "2026-03-01", "report_type": "audit", "id": "1",
                       "csv_Report Date": "2020-01-01", "csv_reportType": "x", "csv___fivetran_synced": "y"}


def test_an_empty_body_or_a_header_alone_is_zero_rows(pindrop):
    assert records(pindrop, "") == []
    assert records(pindrop, "id,a\r\n") == []


@pytest.mark.parametrize("body, message", [
    ("id,a\n1,x,extra\n", "audit report for 2026-03-01: CSV row at line 2 has 3 fields"),
    ("id,a\n1\n", "has 1 fields"),
    ('id,a\n1,"open quote\n', "CSV is malformed"),
    ("id,id\n1,2\n", "duplicate or empty column names"),
])
def test_a_broken_report_is_an_error_naming_the_report(pindrop, body, message):
    with pytest.raises(PayloadError, match=message):
        records(pindrop, body)


def test_occurrence_counts_are_kept_on_disk_not_in_memory(pindrop):
    counter = pindrop.OccurrenceCounter()
    try:
        assert [counter.next("a"), counter.next("b"), counter.next("a")] == [1, 1, 2]
        assert counter._db.execute("PRAGMA database_list").fetchone()[2] == ""  # a temporary file, not :memory:
    finally:
        counter.close()


def test_keys_from_the_fake_are_stable_when_a_report_is_downloaded_again_reordered(pindrop, fake_box, sleeps):
    fake, box, configuration = fake_box()
    configuration = {**configuration, "lookback_days": "2"}
    first, state = run_update(pindrop, configuration)
    for report_type in ("audit", "account_risk", "enrollment"):
        fake.control_regenerate(report_type, day(-2).isoformat(), reverse=True)
    second, _ = run_update(pindrop, configuration, state)
    for report_type in ("audit", "account_risk", "enrollment"):
        before = rows_by_day(first, report_type)[day(-2).isoformat()]
        after = rows_by_day(second, report_type)[day(-2).isoformat()]
        assert {r["id"]: r for r in before} == {r["id"]: r for r in after}, report_type
        assert [r["id"] for r in second.upserts(report_type) if r["report_date"] == day(-2).isoformat()] != \
            [r["id"] for r in before]  # really served in another order
