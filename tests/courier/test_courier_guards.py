"""Courier guards: a tenants page without has_more, a saved boolean watermark, tenant user_profile kept as JSON, a
negative retry-after-ms, a fractional numeric-text enqueued, and a key pasted into another field never quoted."""

import time

import pytest
import responses

from shared import http_client
from shared.config import ConfigError
from shared.parsing import PayloadError
from shared.state import StateError
from tests.harness import Recorder, load_connector, run_update

HOST = "https://api.courier.com"
KEY = "pk_prod_" + "c" * 24


@pytest.fixture
def courier(monkeypatch):
    module = load_connector("courier")
    monkeypatch.setattr(module, "__TIMEOUT_S", (2.0, 1.0))
    return module


def empty_pages(skip=()):
    """Every endpoint at the real host answers one empty page, except those in ``skip``."""
    for path in ("brands", "audit-events", "notifications", "messages"):
        if path not in skip:
            responses.get(f"{HOST}/{path}", json={"results": [], "paging": {"more": False}})
    for path in ("audiences", "lists"):
        if path not in skip:
            responses.get(f"{HOST}/{path}", json={"items": [], "paging": {"more": False}})
    if "tenants" not in skip:
        responses.get(f"{HOST}/tenants", json={"items": [], "has_more": False})


@responses.activate
def test_a_tenants_page_without_has_more_fails_instead_of_ending_the_scan(courier, sleeps):
    """Tenants' envelope is {items, has_more, cursor, next_url}: a page without has_more is a changed or broken
    answer. Read as "no more pages", the tenants of the pages after it would be marked deleted."""
    empty_pages(skip=("tenants",))
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "ACME"}], "cursor": "t2"})
    failed = Recorder()
    with pytest.raises(PayloadError, match="has_more"):
        run_update(courier, {"api_key": KEY}, recorder=failed)
    first_tenant_op = next(i for i, (_, name, _) in enumerate(failed.operations) if name == "tenant")
    assert "checkpoint" not in [kind for kind, _, _ in failed.operations[first_tenant_op:]]  # nothing committed


@responses.activate
def test_a_null_timestamp_is_null_in_both_forms(courier, sleeps):
    """JSON null in a millisecond or ISO column is a null column, not a failed sync."""
    empty_pages(skip=("brands", "audiences"))
    responses.get(f"{HOST}/brands", json={"results": [{"id": "B1", "created": None, "published": 1591753605265}],
                                          "paging": {"more": False}})
    responses.get(f"{HOST}/audiences", json={"items": [{"id": "a1", "updated_at": None}], "paging": {"more": False}})
    recorder, _ = run_update(courier, {"api_key": KEY})
    brand = recorder.table("brand", ["id"])[("B1",)]
    assert brand["created"] is None and brand["published"] == "2020-06-10T01:46:45.265000Z"
    assert recorder.table("audience", ["id"])[("a1",)]["updated_at"] is None


@responses.activate
def test_numeric_text_enqueued_with_a_fraction_counts_toward_the_watermark(courier, sleeps):
    """README: numeric text in a millisecond field is read as its number; the watermark reads it the same way."""
    empty_pages(skip=("messages",))
    responses.get(f"{HOST}/messages", json={"results": [{"id": "m1", "enqueued": "1591753605265.0"}],
                                            "paging": {"more": False}})
    recorder, state = run_update(courier, {"api_key": KEY})
    assert recorder.table("message", ["id"])[("m1",)]["enqueued"] == "2020-06-10T01:46:45.265000Z"
    assert state["message"]["watermark_ms"] == 1591753605265


@pytest.mark.parametrize("watermark", [True, False])
@responses.activate
def test_a_saved_boolean_watermark_is_refused(courier, sleeps, watermark):
    """True is 1 in Python: read as 1 ms since 1970 it would silently re-read the whole retention; it is not a
    value this connector writes, so the sync asks for a state reset instead."""
    empty_pages()
    with pytest.raises(StateError, match="watermark_ms"):
        run_update(courier, {"api_key": KEY}, {"message": {"watermark_ms": watermark}})
    assert not any("/messages" in call.request.url for call in responses.calls)


@pytest.mark.parametrize("key", ["base_url", "start_date", "messages_lookback_days"])
@responses.activate
def test_a_key_pasted_into_another_field_is_never_quoted(courier, sleeps, key):
    """README: "No log line or error contains the API key", and the setup test's sentence never contains it. A key
    pasted into the field next to it fails the configuration check; the message must name the field, not echo
    the key (it lands in the sync log and the setup form)."""
    configuration = {"api_key": KEY, key: KEY}
    with pytest.raises(ConfigError) as error:
        run_update(courier, configuration)
    assert f"'{key}'" in str(error.value) and KEY not in str(error.value)
    answer = courier.test_connection(configuration)
    assert f"'{key}'" in str(answer) and KEY not in str(answer)
    assert len(responses.calls) == 0


@responses.activate
def test_a_tenants_user_profile_is_kept_whole_as_json(courier, sleeps):
    """README: tenant `properties` and `user_profile` (free-form) are kept whole in JSON columns; flattened, each
    tenant's profile keys would become columns of their own and a later shape would split across them."""
    empty_pages(skip=("tenants",))
    profile = {"email": "a@acme.com", "address": {"city": "Leeds"}}
    responses.get(f"{HOST}/tenants", json={"items": [{"id": "ACME", "user_profile": profile}], "has_more": False})
    recorder, _ = run_update(courier, {"api_key": KEY})
    tenant = recorder.table("tenant", ["id"])[("ACME",)]
    assert tenant["user_profile"] == profile and not any(key.startswith("user_profile_") for key in tenant)
    declared = next(table for table in courier.schema({}) if table["table"] == "tenant")
    assert declared["columns"]["user_profile"] == "JSON"


@pytest.mark.parametrize("headers", [{"retry-after-ms": "-1500"}, {"retry-after-ms": "-1"}])
@responses.activate
def test_a_negative_retry_after_ms_retries_at_once_instead_of_failing(courier, monkeypatch, headers):
    """Retry-After and retry-after-ms are honoured; a negative one (a server clock or proxy bug) means "now".
    Sleeping a negative time raises ValueError in Python, which would end the sync on a 429 meant to be retried."""
    waits = []
    monkeypatch.setattr(http_client, "sleep", lambda seconds: (waits.append(seconds), time.sleep(seconds)))
    empty_pages(skip=("brands",))
    responses.get(f"{HOST}/brands", status=429, headers=headers)
    responses.get(f"{HOST}/brands", json={"results": [{"id": "B1"}], "paging": {"more": False}})
    recorder, _ = run_update(courier, {"api_key": KEY})
    assert [key for key in recorder.table("brand", ["id"])] == [("B1",)]
    assert waits == [0.0]
