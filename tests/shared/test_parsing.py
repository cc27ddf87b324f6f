"""shared.parsing: JSON envelopes, streamed CSV and hardened XML."""

import codecs
import re

import pytest
import requests
import responses
import urllib3

from shared.http_client import Client, TransportError
from shared.pagination import by_cursor, by_next_link
from shared.parsing import (
    NotCsv,
    PayloadError,
    body_chunks,
    csv_rows,
    declared_charset,
    json_body,
    require,
    xml_rows,
)
from shared.redaction import Redactor


def chunks(text: str, size: int = 7):
    return [text[i:i + size] for i in range(0, len(text), size)]


# --- JSON -------------------------------------------------------------------------------------------------------

@responses.activate
def test_json_body_names_the_endpoint_when_the_body_is_not_json():
    responses.get("https://x.test/brands?cursor=1", body="<html>gateway</html>")
    with pytest.raises(PayloadError, match=r"https://x.test/brands returned a body that is not JSON.*gateway"):
        json_body(requests.get("https://x.test/brands?cursor=1", timeout=5))


@responses.activate
def test_a_body_that_is_not_json_is_quoted_through_the_syncs_redactor():
    """A proxy's or a misrouted host's page can echo the request, credentials included."""
    responses.get("https://x.test/brands", body="<html>Authorization: Bearer SECRET-KEY-42 was refused</html>")
    with pytest.raises(PayloadError, match="not JSON") as error:
        json_body(requests.get("https://x.test/brands", timeout=5), Redactor(["SECRET-KEY-42"]))
    assert "SECRET-KEY-42" not in str(error.value) and "***" in str(error.value)


@responses.activate
def test_every_paging_style_quotes_a_broken_body_through_the_clients_redactor(sleeps):
    responses.get("https://x.test/items", body="echo: apiKey-value SECRET-KEY-42")
    http = Client(redactor=Redactor(["SECRET-KEY-42"]))
    walks = (by_cursor(http, "https://x.test/items", records_of=list, next_cursor_of=lambda body: None),
             by_next_link(http, "https://x.test/items", records_of=list))
    for walk in walks:
        with pytest.raises(PayloadError) as error:
            next(walk)
        assert "SECRET-KEY-42" not in str(error.value)


@pytest.mark.parametrize("content_type, expected", [
    ("text/csv", "utf-8-sig"), ("text/csv; charset=utf-8", "utf-8-sig"), ("text/csv; charset=\"UTF8\"", "utf-8-sig"),
    ("text/csv; charset=ISO-8859-1", "latin-1"), ("text/csv;charset=windows-1252; header=present", "cp1252"),
    ("text/csv; charset=klingon", "utf-8-sig"), ("", "utf-8-sig"),
])
def test_the_declared_charset_and_only_it_decides_the_encoding(content_type, expected):
    response = requests.Response()
    response.headers["Content-Type"] = content_type
    assert codecs.lookup(declared_charset(response)).name == codecs.lookup(expected).name


def test_require_walks_the_envelope_and_fails_on_a_missing_key():
    body = {"paging": {"more": True}, "results": [1]}
    assert require(body, "results") == [1]
    assert require(body, "paging", "more") is True
    with pytest.raises(PayloadError, match="lacks 'items'"):
        require(body, "items", where="/lists")
    with pytest.raises(PayloadError, match="lacks 'paging.cursor'"):
        require(body, "paging", "cursor")


# --- CSV --------------------------------------------------------------------------------------------------------

def test_csv_header_bom_and_quoted_newlines():
    text = '\ufeffid,note\r\n1,"line one\nline two"\r\n2,plain\r\n'
    rows = list(csv_rows(chunks(text, 5)))
    assert rows == [{"id": "1", "note": "line one\nline two"}, {"id": "2", "note": "plain"}]


def test_csv_bom_is_dropped_when_reading_a_response():
    class Raw:
        def stream(self, size, decode_content):
            yield "\ufeffid,name\n1,é\n".encode()

    response = requests.Response()
    response.raw = Raw()
    assert list(csv_rows(response)) == [{"id": "1", "name": "é"}]


def test_a_row_longer_than_the_header_is_an_error():
    with pytest.raises(PayloadError, match="line 3 has 3 fields, the header has 2"):
        list(csv_rows(["id,name\n1,a\n2,b,extra\n"]))


def test_a_row_shorter_than_the_header_is_an_error():
    with pytest.raises(PayloadError, match="has 1 fields"):
        list(csv_rows(["id,name\n1\n"]))


def test_duplicate_header_names_are_an_error():
    with pytest.raises(PayloadError, match="duplicate"):
        list(csv_rows(["id,id\n1,2\n"]))


def test_bad_quoting_is_an_error():
    with pytest.raises(PayloadError, match="malformed"):
        list(csv_rows(['id,name\n1,"unterminated\n']))


def test_empty_body_and_header_only_give_no_rows():
    assert list(csv_rows([])) == []
    assert list(csv_rows(["id,name\n"])) == []


def test_csv_is_streamed_rows_arrive_before_the_body_ends():
    def endless():
        yield "id\n"
        n = 0
        while True:
            n += 1
            yield f"{n}\n"

    reader = csv_rows(endless())
    assert [next(reader)["id"] for _ in range(5)] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("text, looks_like", [
    ("<!DOCTYPE html>\n<html>\n<body>Sign in</body>\n</html>\n", "HTML or XML"),
    ('<?xml version="1.0"?><error>nope</error>', "HTML or XML"),
    ('{"status": "pending"}', "JSON"),
    ('\ufeff\r\n  [{"id": 1}]', "JSON"),
])
def test_a_csv_body_that_starts_like_markup_or_json_fails_before_any_row(text, looks_like):
    with pytest.raises(NotCsv, match=re.escape(f"body is {looks_like}, not CSV; it starts with")) as error:
        list(csv_rows(chunks(text, 3)))
    assert error.value.looks_like.startswith(looks_like)


def test_a_csv_value_may_hold_markup_and_json():
    rows = list(csv_rows(["", "\ufeffid,note,extra\n1,<b>bold</b>,{\"a\": 1}\n"]))
    assert rows == [{"id": "1", "note": "<b>bold</b>", "extra": '{"a": 1}'}]


@responses.activate
def test_a_streamed_body_that_does_not_decompress_is_a_transport_error_naming_the_encoding():
    responses.get("https://x.test/report.csv", body=b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    response = requests.get("https://x.test/report.csv", stream=True, timeout=5)
    with pytest.raises(TransportError, match=r"DecodeError while reading the body \(gzip\)"):
        list(body_chunks(response))


def test_a_large_field_is_accepted():
    big = "x" * 1_000_000
    assert list(csv_rows([f"id,blob\n1,{big}\n"]))[0]["blob"] == big


def cut_off_response() -> requests.Response:
    """A streamed response whose body ends after one row with urllib3's 'Response ended prematurely'."""
    class Raw:
        def stream(self, size, decode_content):
            yield b"id\n1\n"
            raise urllib3.exceptions.ProtocolError("Response ended prematurely")

    response = requests.Response()
    response.raw = Raw()
    return response


def test_a_body_cut_off_mid_stream_is_a_transport_error():
    with pytest.raises(TransportError):
        list(body_chunks(cut_off_response()))
    with pytest.raises(TransportError):
        list(csv_rows(cut_off_response()))


def test_invalid_utf8_is_a_payload_error():
    response = requests.Response()

    class Raw:
        def stream(self, size, decode_content):
            yield b"id\n\xff\xfe\n"

    response.raw = Raw()
    with pytest.raises(PayloadError, match="not valid utf-8"):
        list(csv_rows(response))


# --- XML --------------------------------------------------------------------------------------------------------

def xml(text: str, **kwargs):
    return list(xml_rows([c.encode() for c in chunks(text, 11)], **kwargs))


def test_xml_rows_with_attributes_nested_repeated_and_empty_elements():
    text = """<?xml version="1.0" encoding="UTF-8"?>
    <ns:things xmlns:ns="urn:x"><ns:thing kind="a">
      <id>1</id><name>First</name><address><city>Oslo</city><zip/></address>
      <tag>x</tag><tag>y</tag><tag>z</tag><empty></empty>
    </ns:thing><ns:thing kind="b"><id>2</id></ns:thing></ns:things>"""
    rows = xml(text, root="things", row="thing")
    assert rows[0] == {"kind": "a", "id": "1", "name": "First", "address": {"city": "Oslo", "zip": None},
                       "tag": ["x", "y", "z"], "empty": None}
    assert rows[1] == {"kind": "b", "id": "2"}


def test_xml_namespace_declarations_on_a_row_are_not_columns():
    text = ('<ct:things xmlns:ct="urn:ct"><ct:thing xmlns="urn:d" xmlns:x="urn:x" x:kind="a"><ct:id>1</ct:id>'
            '<x:name>A</x:name></ct:thing></ct:things>')
    assert xml(text, root="things", row="thing") == [{"kind": "a", "id": "1", "name": "A"}]


def test_xml_an_attribute_and_a_child_of_the_same_name_are_one_value_or_an_error():
    text = '<things><thing id="1"><id>1</id><tag>a</tag><tag>b</tag></thing></things>'
    assert xml(text, root="things", row="thing") == [{"id": "1", "tag": ["a", "b"]}]
    with pytest.raises(PayloadError, match="<thing> has an attribute and a child element both named 'id'"):
        xml('<things><thing id="1"><id>2</id></thing></things>', root="things", row="thing")


def test_xml_empty_body_and_empty_root_give_no_rows():
    assert xml("", root="things", row="thing") == []
    assert xml("  \n ", root="things", row="thing") == []
    assert xml("<things/>", root="things", row="thing") == []
    assert xml("<things>\n</things>", root="things", row="thing") == []


def test_xml_wrong_root_is_an_error():
    with pytest.raises(PayloadError, match="root is <error>, expected <things>"):
        xml("<error><message>bad key</message></error>", root="things", row="thing")


def test_xml_wrong_row_element_is_an_error():
    with pytest.raises(PayloadError, match="expected <thing> rows"):
        xml("<things><other/></things>", root="things", row="thing")


def test_text_in_the_root_instead_of_rows_is_an_error_not_zero_rows():
    with pytest.raises(PayloadError, match="holds text instead of <thing> rows: 'No access for this key'"):
        xml("<things>\n  No access for this key\n</things>", root="things", row="thing")
    with pytest.raises(PayloadError, match="holds text"):
        xml("<things><thing><id>1</id></thing>trailing</things>", root="things", row="thing")


def test_plain_text_instead_of_xml_is_an_error_quoting_it():
    with pytest.raises(PayloadError, match="Invalid API Key"):
        xml("Invalid API Key", root="things", row="thing")


def test_xml_dtd_and_entities_are_refused():
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              "<things><thing><id>&lol2;</id></thing></things>")
    with pytest.raises(PayloadError, match="DTD"):
        xml(laughs, root="things", row="thing")
    external = '<?xml version="1.0"?><!DOCTYPE t SYSTEM "http://evil.test/x.dtd"><things/>'
    with pytest.raises(PayloadError, match="DTD"):
        xml(external, root="things", row="thing")


def test_xml_rows_are_yielded_while_parsing():
    def endless():
        yield b"<things>"
        n = 0
        while True:
            n += 1
            yield f"<thing><id>{n}</id></thing>".encode()

    reader = xml_rows(endless(), root="things", row="thing")
    assert [next(reader)["id"] for _ in range(3)] == ["1", "2", "3"]


def test_truncated_xml_is_an_error():
    with pytest.raises(PayloadError):
        xml("<things><thing><id>1</id></thing><thing><id>2", root="things", row="thing")


def test_a_streamed_body_cut_off_through_requests_own_reader_is_a_transport_error():
    """Where urllib3 has no read1 (before 2), body pieces come from requests' iter_content, which wraps the
    urllib3 errors (ChunkedEncodingError): still a TransportError, so the report is downloaded again."""
    response = cut_off_response()
    response.too_late = lambda size: None  # as shared.http_client.Client marks a streamed answer
    with pytest.raises(TransportError, match="ChunkedEncodingError while reading the body"):
        list(body_chunks(response))


def test_the_last_csv_row_without_a_line_end_is_delivered():
    """Many CSV writers end the last row without a newline: it is a row like any other, not to be dropped."""
    assert list(csv_rows(["id,name\n1,a\n2,b"])) == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]
    assert list(csv_rows(["id,na", "me\n1,a\n2", ",b"])) == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]


@responses.activate
def test_the_last_csv_row_of_a_streamed_response_without_a_line_end_is_delivered():
    responses.get("https://x.test/report.csv", body=b"id,name\n1,a\n2,b", content_type="text/csv")
    response = Client().get("https://x.test/report.csv", stream=True)
    assert [row["id"] for row in csv_rows(response)] == ["1", "2"]


@pytest.mark.parametrize("header", ["id,,name", "id, ,name", ",id"])
def test_a_csv_header_with_an_empty_column_name_is_an_error(header):
    with pytest.raises(PayloadError, match="duplicate or empty column names"):
        list(csv_rows([f"{header}\n" + ",".join("x" * header.count(",") + "x") + "\n"]))
