"""The AroFlo fake on its own: signature checks, default filter, where/order, formats, limits, triggers."""

from datetime import datetime, timedelta, timezone

import pytest
import requests

from sandbox.aroflo import AroFloFake
from tests.aroflo.conftest import SMALL
from tests.aroflo.test_aroflo_signing import api_module


@pytest.fixture
def call(aroflo, sandbox, vtime):
    """``call(fake, query, **auth_options)``: one signed GET to a started fake; returns the response."""

    def send(fake: AroFloFake, query: str, accept: str = "text/json", headers: dict | None = None, **options):
        box = sandbox(fake) if not hasattr(fake, "_box") else fake._box
        fake._box = box
        credentials = fake.configuration("")
        auth = api_module().AroFloHmacAuth(credentials["uencoded"], credentials["pencoded"],
                                           credentials["orgencoded"], options.pop("secret_key", fake.secret_key),
                                           accept=accept, **options)
        return requests.get(f"{box.url('aroflo')}/?{query}", auth=auth, headers=headers, timeout=5)

    return send


def small_fake(vtime, **options) -> AroFloFake:
    return AroFloFake(**{"counts": SMALL, "clock": vtime.clock, **options})


def test_no_where_gets_the_30_day_default_filter_and_says_so(call, vtime):
    fake = small_fake(vtime)
    fake.control_insert("users", 2)
    body = call(fake, "zone=users&page=1").json()
    assert body["statusmessage"] == "Login OK. No WHERE clause found, default filter applied."
    since = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y/%m/%d %H:%M:%S")
    recent = {r["userid"] for r in fake.rows("users") if r["createddatetimeutc"] > since}
    assert {r["userid"] for r in body["zoneresponse"]["users"]} == recent
    assert 2 <= len(recent) < SMALL["users"]  # the two users created now, and the newest generated ones


def test_where_and_order_follow_the_documented_grammar(call, vtime):
    fake = small_fake(vtime)
    first_id, second_id = fake.make_id("PAY", 1), fake.make_id("PAY", 2)
    query = api_module().build_query("payments", where=[f"and|paymentid|IN|{first_id}*{second_id}"],
                                     order=["datepaid|desc"])
    rows = call(fake, query).json()["zoneresponse"]["payments"]
    assert {r["paymentid"] for r in rows} == {first_id, second_id}
    assert rows[0]["datepaid"] >= rows[1]["datepaid"]
    query = api_module().build_query("users", where=[f"and|userid|=|{first_id}", "or|surname|=|NOBODY"])
    assert call(fake, query).json()["zoneresponse"]["currentpageresults"] == 0
    bad = call(fake, api_module().build_query("users", where=["and|password|=|x"])).json()
    assert bad["status"] == "99" and "Invalid WHERE field" in bad["statusmessage"]


def test_paging_reports_max_and_current_page_results(call, vtime):
    fake = small_fake(vtime)
    where = ["and|datepaid|>|2000-01-01"]
    last = call(fake, api_module().build_query("payments", where=where, page=3, page_size=100)).json()
    assert last["zoneresponse"]["currentpageresults"] == 30 and last["zoneresponse"]["maxpageresults"] == 500
    users = call(fake, api_module().build_query("users", where=["and|createdutc|>|2001-01-01"], page_size=900))
    assert users.json()["zoneresponse"]["maxpageresults"] == "500"  # a string here, an int for payments
    assert users.json()["zoneresponse"]["currentpageresults"] == SMALL["users"]


def test_formats_follow_the_vendor_examples(call, vtime):
    fake = small_fake(vtime)
    users = call(fake, api_module().build_query("users", where=["and|createdutc|>|2001-01-01"])).json()
    never_updated = users["zoneresponse"]["users"][0]
    assert never_updated["lastupdateddatetimeutc"] == " " and never_updated["lastupdatedutc"] == ""
    assert datetime.strptime(never_updated["createddatetimeutc"], "%Y/%m/%d %H:%M:%S")
    supplier = fake.row("suppliers", 1)
    assert datetime.strptime(supplier["datetimeinserted"], "%Y-%m-%d %H:%M:%S.%f")
    payment = fake.row("payments", 1)
    assert payment["amount"].count(".") == 1 and len(payment["amount"].split(".")[1]) == 4
    assert fake.row("users", 5)["archived"] == "TRUE"


def test_signature_checks(call, vtime, monkeypatch):
    fake = small_fake(vtime)
    query = "zone=users&where=and%7Ccreatedutc%7C%3E%7C2001-01-01"
    assert call(fake, query).json()["status"] == "0"
    assert call(fake, query, host_ip="203.0.113.10").json()["status"] == "0"  # HostIP signed when sent
    wrong = call(fake, query, secret_key="another-secret").json()
    assert (wrong["status"], wrong["statusmessage"]) == ("-99999", "Authentication failed: signature mismatch")
    stale = call(fake, query, clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=6)).json()
    assert (stale["status"], stale["statusmessage"]) == ("-99999", "Payload has expired")
    tampered = call(fake, query, headers={"HostIP": "198.51.100.1"}).json()  # sent but not signed
    assert tampered["status"] == "-99999"
    box = fake._box
    unsigned = requests.get(f"{box.url('aroflo')}/?{query}", timeout=5)
    assert "Login Failed - Invalid Request string" in unsigned.text and unsigned.text.startswith("<?xml")


def test_xml_is_the_default_without_accept_text_json(call, vtime):
    fake = small_fake(vtime)
    response = call(fake, "zone=users&where=and%7Ccreatedutc%7C%3E%7C2001-01-01", accept="text/xml")
    assert response.text.startswith("<?xml") and "<imsapi><status>0</status>" in response.text


def test_limits_and_triggers(call, vtime):
    fake = small_fake(vtime, per_day=3)
    query = "zone=users&where=and%7Ccreatedutc%7C%3E%7C2001-01-01&pageSize=1"
    assert [call(fake, query).json()["status"] for _ in range(4)] == ["0", "0", "0", "429"]  # 3 a second
    vtime.now += 1.0
    assert call(fake, query).json()["status"] == "7"  # the day's three requests are spent
    assert call(fake, "zone=lastupdate&where=and%7Clastupdateutc%7C%3E%7C2001-01-01").json()["status"] == "0"
    fake.control_reset_day()
    fake.control_trigger("888888", zone="users")
    vtime.now += 1.0
    assert call(fake, query).json()["status"] == "888888"
    assert call(fake, query).json()["status"] == "0"
    assert call(fake, query).headers["X-RateLimit-Daily-Remaining"] == "0"


def test_a_wrong_path_is_a_404(call, vtime, sandbox):
    fake = small_fake(vtime)
    box = sandbox(fake)
    assert requests.get(f"{box.url('aroflo')}/v1/users", timeout=5).status_code == 404


def test_large_row_counts_are_generated_lazily(vtime):
    fake = AroFloFake(counts={"payments": 200_000}, clock=vtime.clock)
    assert len(fake._edited["payments"]) == 0
    assert fake.row("payments", 199_999)["paymentid"] == fake.make_id("PAY", 199_999)


def test_the_per_minute_limit_answers_status_6(call, vtime):
    fake = small_fake(vtime, per_second=None, per_minute=2)
    query = "zone=users&where=and%7Ccreatedutc%7C%3E%7C2001-01-01&pageSize=1"
    assert [call(fake, query).json()["status"] for _ in range(3)] == ["0", "0", "6"]
    vtime.now += 60.0
    assert call(fake, query).json()["status"] == "0"
