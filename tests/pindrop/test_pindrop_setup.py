"""Pindrop configuration, setup form and setup test, the documented production hosts, and secrets never shown."""

import json
import re

import pytest
import responses
from responses import matchers

from shared.config import ConfigError
from shared.http_client import HttpError
from tests.harness import ROOT, run_update
from tests.pindrop.conftest import TODAY, day

GOOD = {"client_id": "client-abc", "client_secret": "secret-abc-123"}
ALL_TYPES = ("blacklist", "calls", "audit", "cases", "account_risk", "enrollment")


def test_defaults(pindrop):
    settings = pindrop.validate_configuration(GOOD)
    assert settings.token_url == "https://auth.us2.pindrop.com/oauth2/token"
    assert settings.base_url == "https://api2.us2.pindrop.com"
    assert settings.report_types == ALL_TYPES
    assert (settings.start_date, settings.lookback_days, settings.missing_report_grace_days) == (None, 1, 3)
    assert settings.requests_per_second is None
    assert "secret-abc-123" not in repr(settings)


def test_report_types_are_walked_in_the_fixed_order(pindrop):
    settings = pindrop.validate_configuration({**GOOD, "report_types": " enrollment, calls ,CALLS"})
    assert settings.report_types == ("calls", "enrollment")


@pytest.mark.parametrize("key, value, message", [
    ("client_id", "<YOUR_PINDROP_CLIENT_ID>", "'client_id' still holds the template placeholder"),
    ("client_secret", "<YOUR_PINDROP_CLIENT_SECRET>", "'client_secret' still holds the template placeholder"),
    ("client_secret", "  ", "'client_secret' is required"),
    ("start_date", "2025-02-30", "'start_date': expected a date as YYYY-MM-DD"),
    ("start_date", "2999-01-01", "'start_date': expected a day no later than today ("),
    ("report_types", "calls,removal_list", "'report_types': expected a comma-separated list of blacklist, calls"),
    ("lookback_days", "-1", "'lookback_days': expected an integer from 0 to 3650"),
    ("missing_report_grace_days", "three", "'missing_report_grace_days': expected an integer"),
    ("token_url", "auth.us2.pindrop.com/oauth2/token", "'token_url': expected an http"),
    ("base_url", "ftp://api2.us2.pindrop.com", "'base_url': expected an http"),
    ("requests_per_second", "-2", "'requests_per_second': expected a number of at least 0"),
])
def test_bad_configuration_names_the_key_and_the_expected_form(pindrop, key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        pindrop.validate_configuration({**GOOD, key: value})


def test_placeholder_errors_never_echo_the_secret(pindrop):
    with pytest.raises(ConfigError) as error:
        pindrop.validate_configuration({**GOOD, "client_secret": "<my-real-looking-secret>"})
    assert "my-real-looking-secret" not in str(error.value)


def test_the_shipped_template_is_rejected_before_any_request(pindrop):
    template = json.loads((ROOT / "pindrop" / "configuration.json").read_text())
    assert all(isinstance(value, str) for value in template.values())
    with pytest.raises(ConfigError, match="placeholder"):
        run_update(pindrop, template)
    # the credentials filled in, the optional keys left at their <OPTIONAL_...> placeholders: their defaults
    settings = pindrop.validate_configuration({**template, **GOOD})
    assert (settings.start_date, settings.lookback_days, settings.base_url) == (None, 1, "https://api2.us2.pindrop.com")


def test_the_form_lists_every_configuration_key(pindrop):
    form = pindrop.configuration_form().to_response()
    fields = {f.name: f for f in form.fields}
    template = json.loads((ROOT / "pindrop" / "configuration.json").read_text())
    assert set(fields) == set(template)
    assert fields["client_secret"].text_field == 1 and fields["client_secret"].required  # password
    assert fields["client_id"].required and not fields["start_date"].required
    options = [o.value for o in fields["report_types"].dropdown_options]
    assert options[0] == ",".join(ALL_TYPES) and set(options[1:]) == set(ALL_TYPES)
    for option in options:
        assert pindrop.validate_configuration({**GOOD, "report_types": option}).report_types
    assert all(f.label and f.description and f.placeholder for f in form.fields)
    assert [f.name for f in form.fields if f.required] == ["client_id", "client_secret"]
    assert [t.name for t in form.tests] == ["test_connection"]


def test_setup_test_success_and_each_failure(pindrop, fake_box, sleeps):
    fake, box, good = fake_box()
    assert pindrop.test_connection(good).success is True
    opened = box.requests_to("pindrop", "/v1/nightly_reports/")
    assert [r.path for r in opened] == [f"/v1/nightly_reports/blacklist/{day(-4).isoformat()}"]

    bad_secret = pindrop.test_connection({**good, "client_secret": "not-the-secret"}).failure
    assert "refused the credentials" in bad_secret and "HTTP 401" in bad_secret
    assert "Check 'client_id' and 'client_secret'" in bad_secret and "not-the-secret" not in bad_secret

    unreachable = pindrop.test_connection({**good, "token_url": "http://127.0.0.1:9/oauth2/token"}).failure
    assert "Could not reach Pindrop" in unreachable and "'token_url' and 'base_url'" in unreachable

    box.faults.add("pindrop", "/v1/nightly_reports/", "status", status=403)
    wrong_region = pindrop.test_connection(good).failure
    assert "refused" in wrong_region and "same region as 'token_url'" in wrong_region

    box.faults.add("pindrop", "/oauth2/token", "malformed")
    not_a_token_endpoint = pindrop.test_connection(good).failure
    assert "returned no access_token" in not_a_token_endpoint

    placeholder = pindrop.test_connection({**good, "client_id": "<YOUR_PINDROP_CLIENT_ID>"}).failure
    assert "placeholder" in placeholder

    fake.control_set_missing("blacklist", day(-4).isoformat())  # a day without a report is not a failure
    assert pindrop.test_connection(good).success is True


def test_a_canary_secret_never_appears_in_logs_errors_or_output(pindrop, fake_box, sleeps, capsys, monkeypatch,
                                                                  log):
    canary = "CANARY-pindrop-5e1b77"
    monkeypatch.setattr(pindrop, "log", log)
    fake, box, configuration = fake_box(client_secret=canary)
    box.faults.add("pindrop", "/oauth2/token", "status", status=500)
    box.faults.add("pindrop", "/v1/nightly_reports/calls/", "reset", nth=2)
    box.faults.add("pindrop", "/v1/nightly_reports/audit/", "expired_token", nth=2)
    run_update(pindrop, configuration)
    tokens = list(fake.tokens)
    with pytest.raises(HttpError) as bad_credentials:
        run_update(pindrop, {**configuration, "client_secret": canary + "-wrong"})
    box.faults.add("pindrop", "/v1/nightly_reports/", "expired_token", times=None)
    with pytest.raises(HttpError) as refused:
        run_update(pindrop, configuration)
    setup = pindrop.test_connection({**configuration, "client_secret": canary + "-wrong"}).failure
    captured = capsys.readouterr()
    seen = "\n".join([str(bad_credentials.value), str(refused.value), setup, captured.out, captured.err, log.text()])
    assert canary not in seen
    assert not any(token in seen for token in tokens + list(fake.tokens))
    assert "retry" in log.text() and "renewing the credentials once" in log.text()


@responses.activate
def test_the_documented_production_hosts_and_shapes(pindrop, sleeps):
    """Defaults only: the token form at auth.us2, reports at api2.us2 with the bearer token and nothing else."""
    responses.post("https://auth.us2.pindrop.com/oauth2/token",
                   json={"access_token": "prod-token-1", "expires_in": 3600},
                   match=[matchers.urlencoded_params_matcher({"grant_type": "client_credentials",
                                                              "client_id": "client-abc",
                                                              "client_secret": "secret-abc-123"}),
                          matchers.header_matcher({"Accept": "application/json"})])
    report = re.compile(r"https://api2\.us2\.pindrop\.com/v1/nightly_reports/calls/(\d{4}-\d{2}-\d{2})")
    responses.get(report, body="\ufeffid,ani\r\nc-1, +15550001 \r\nc-2,\r\n".encode(),
                  content_type="text/csv")
    recorder, state = run_update(pindrop, {**GOOD, "report_types": "calls", "start_date": day(-2).isoformat()})
    asked = [c.request.url for c in responses.calls[1:]]
    assert asked == [f"https://api2.us2.pindrop.com/v1/nightly_reports/calls/{d}"
                     for d in (day(-2).isoformat(), day(-1).isoformat(), TODAY.isoformat())]
    assert all(c.request.headers["Authorization"] == "Bearer prod-token-1" for c in responses.calls[1:])
    assert "Basic" not in responses.calls[0].request.headers.get("Authorization", "")
    assert recorder.upserts("calls")[:2] == [
        {"report_date": day(-2).isoformat(), "report_type": "calls", "id": "c-1", "ani": "+15550001"},
        {"report_date": day(-2).isoformat(), "report_type": "calls", "id": "c-2", "ani": None}]
    assert state == {"calls": {"last_day_delivered": TODAY.isoformat()}}


@pytest.mark.parametrize("value", [",", " , ,", " ,\t"])
def test_report_types_holding_only_commas_fail_naming_the_key(pindrop, value):
    """Not an empty selection (a sync of no report, every time, without a word): a configuration error."""
    with pytest.raises(ConfigError, match="configuration key 'report_types': expected a comma-separated list"):
        pindrop.validate_configuration({"client_id": "id-1", "client_secret": "secret-1", "report_types": value})
