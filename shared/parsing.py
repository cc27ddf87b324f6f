"""Turning response bodies into rows: JSON envelopes, streamed CSV, and XML without DTDs or entities.

Malformed input is an error with a clear message (``PayloadError``), never "zero rows".
A body cut off mid-read while streaming surfaces as ``shared.http_client.TransportError`` so the caller can
download again.

Public: PayloadError, NotCsv, json_body, require, body_chunks, declared_charset, csv_rows, xml_rows
"""

import codecs
import csv
import functools
import re
import sys
import xml.parsers.expat
from collections.abc import Iterable, Iterator
from typing import Any

import requests
from requests.packages.urllib3 import exceptions as urllib3_exceptions  # see shared/http_client.py

from shared.http_client import TransportError, body_pieces

CSV_FIELD_LIMIT_CHARS = 64 * 1024 * 1024  # the csv module's default (128 KiB) rejects large free-text fields
CHUNK_BYTES = 256 * 1024
EXCERPT_CHARS = 200
_CHARSET = re.compile(r"(?i)\bcharset\s*=\s*(\"[^\"]*\"|[^;\s]+)")

csv.field_size_limit(min(sys.maxsize, CSV_FIELD_LIMIT_CHARS))


class PayloadError(ValueError):
    """A body that does not have the documented shape."""


class NotCsv(PayloadError):
    """A body expected as CSV that starts like markup or JSON (a sign-in page, an error envelope, whatever its
    Content-Type says): parsed as CSV it would be a header, maybe rows, of HTML. ``looks_like`` names what it is."""

    def __init__(self, message: str, looks_like: str):
        super().__init__(message)
        self.looks_like = looks_like


def _excerpt(text: str) -> str:
    return " ".join(text[: EXCERPT_CHARS * 4].split())[:EXCERPT_CHARS]


def json_body(response: requests.Response, redactor=None) -> Any:
    """The parsed JSON body, or PayloadError naming the endpoint and the start of what came back.

    ``redactor`` (the sync's ``Redactor``) scrubs that excerpt: a proxy's or a misrouted host's page can echo the
    request, credentials included."""
    try:
        return response.json()
    except ValueError:
        path = response.url.split("?", 1)[0] if response.url else "the API"
        scrub = redactor.redact if redactor is not None else str
        message = f"{scrub(path)} returned a body that is not JSON: {_excerpt(scrub(response.text))!r}"
        raise PayloadError(message) from None


def require(body: Any, *path: str, where: str = "response") -> Any:
    """``body[path[0]][path[1]]...``; a missing key is a PayloadError, so a changed envelope never means 0 rows."""
    node = body
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            found = sorted(node)[:10] if isinstance(node, dict) else type(node).__name__
            raise PayloadError(f"{where} lacks {'.'.join(path[:depth + 1])!r} (found {found})")
        node = node[key]
    return node


# --- CSV --------------------------------------------------------------------------------------------------------

def body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The (decompressed) body of a streamed response in pieces; a body cut off mid-read, or a compressed one that
    does not decompress (a proxy's corruption, most likely), raises TransportError, so it is downloaded again.

    A response from ``shared.http_client.Client`` carries ``too_late``: past the client's grace time the body must
    have kept a minimum average rate (a report trickled a byte at a time would hold the sync for ever)."""
    late = getattr(response, "too_late", None)
    try:
        if late is None:
            yield from response.raw.stream(CHUNK_BYTES, decode_content=True)
            return
        size = 0
        for piece in body_pieces(response, CHUNK_BYTES):
            yield piece
            size += len(piece)
            failure = late(size)
            if failure:
                response.close()
                raise TransportError(failure)
    except (urllib3_exceptions.ProtocolError, urllib3_exceptions.ReadTimeoutError, urllib3_exceptions.DecodeError,
            urllib3_exceptions.SSLError, requests.ConnectionError, requests.Timeout, OSError,
            # as requests wraps them, where body_pieces falls back to iter_content (urllib3 before 2)
            requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        encoding = f" ({response.headers.get('Content-Encoding')})" if isinstance(
            exc, (urllib3_exceptions.DecodeError, requests.exceptions.ContentDecodingError)) else ""
        failure = f"{type(exc).__name__} while reading the body{encoding}"
    else:
        return
    raise TransportError(failure)


def _text_chunks(chunks: Iterable[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for chunk in chunks:
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid {encoding}: {exc.reason} at byte {exc.start}") from None


def _lines(chunks: Iterable[str]) -> Iterator[str]:
    """Split text chunks into lines that keep their line ends (csv needs them to keep newlines in quoted fields)."""
    tail = ""
    for piece in chunks:
        if not piece:
            continue
        parts = (tail + piece).split("\n")
        tail = parts.pop()
        for part in parts:
            yield part + "\n"
    if tail:
        yield tail


def declared_charset(response: requests.Response, default: str = "utf-8-sig") -> str:
    """The charset the response's Content-Type names, else ``default``; UTF-8 is read as ``utf-8-sig`` (a BOM is
    dropped), and a name Python does not know falls back to ``default`` (decoding then says what is wrong).

    Not ``response.encoding``: requests assumes ISO-8859-1 for any text/* without a charset, and UTF-8 bodies
    served as text/csv would be misread."""
    match = _CHARSET.search(getattr(response, "headers", {}).get("Content-Type", ""))  # text chunks: the default
    if not match:
        return default
    try:
        name = codecs.lookup(match.group(1).strip("\"' ")).name
    except LookupError:
        return default
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def csv_rows(source: requests.Response | Iterable[str], *, encoding: str = "utf-8-sig",
             delimiter: str = ",") -> Iterator[dict[str, str]]:
    """Rows of a CSV body as dicts, streamed: memory does not grow with the body.

    The first row is the header (a BOM is dropped with ``utf-8-sig``, names are trimmed); newlines inside quoted
    fields are kept.
    A row with more or fewer fields than the header, or a duplicate header name, is a PayloadError.
    ``source`` is a streamed response (``stream=True``) or any iterable of text chunks.
    """
    chunks = _text_chunks(body_chunks(source), encoding) if isinstance(source, requests.Response) else source
    reader = csv.reader(_lines(_refusing_markup(chunks)), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        if header and header[0].startswith("\ufeff"):  # a BOM in text that was decoded without utf-8-sig
            header[0] = header[0][1:]
        header = [name.strip() for name in header]
        _check_header(header)
        for values in reader:
            if not values:
                continue  # a blank line, e.g. at the end of the file
            if len(values) != len(header):
                raise PayloadError(f"CSV row at line {reader.line_num} has {len(values)} fields, the header has "
                                   f"{len(header)}")
            yield dict(zip(header, values, strict=True))
    except csv.Error as exc:
        raise PayloadError(f"CSV is malformed at line {reader.line_num}: {exc}") from None


def _refusing_markup(chunks: Iterable[str]) -> Iterator[str]:
    """The text chunks of a CSV body, unless its first character is ``<``, ``{`` or ``[``: NotCsv, before any row.

    No CSV header starts that way; a proxy's sign-in page or a JSON notice does, whatever its Content-Type says."""
    pieces = iter(chunks)
    head = ""
    for piece in pieces:
        head += piece
        start = head.lstrip("\ufeff \t\r\n")
        if start:
            if start[0] in "<{[":
                looks_like = "JSON" if start[0] in "{[" else "HTML or XML"
                raise NotCsv(f"body is {looks_like}, not CSV; it starts with {_excerpt(start)!r}",
                             looks_like=f"{looks_like} ({_excerpt(start)[:60]!r})")
            break
    if head:
        yield head
    yield from pieces


def _check_header(names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates or not all(names):
        raise PayloadError(f"CSV header has duplicate or empty column names: {duplicates or names}")


# --- XML --------------------------------------------------------------------------------------------------------

class _RowBuilder:
    """Expat callbacks that build one dict per row element below the root, yielding each as soon as it closes."""

    def __init__(self, root: str, row: str):
        self.root, self.row = root, row
        self.depth = 0
        self.stack: list[tuple[str, dict, list[str], set | None]] = []  # name, children, texts, attribute names
        self.done: list[dict] = []
        self.root_text: list[str] = []

    def start(self, name, attributes):
        # Hot path (about 20 elements per row): leaf elements without attributes skip the attribute copy.
        self.depth += 1
        if self.depth <= 2:
            local = _local(name)
            if self.depth == 1:
                if local != self.root:
                    raise PayloadError(f"XML root is <{local}>, expected <{self.root}>")
                return
            if local != self.row:
                raise PayloadError(f"XML <{self.root}> holds <{local}>, expected <{self.row}> rows")
        if attributes:
            values = _attribute_values(attributes)
            self.stack.append((_local(name), values, [], set(values)))
        else:
            self.stack.append((_local(name), {}, [], None))

    def text(self, data):
        if self.stack:
            self.stack[-1][2].append(data)
        elif self.depth == 1 and (self.root_text or not data.isspace()):
            self.root_text.append(data)  # not whitespace between rows: a message in the data slot, <root>No...</root>

    def end(self, _name):
        self.depth -= 1
        stack = self.stack
        if not stack:
            if self.depth == 0 and "".join(self.root_text).strip():
                text = " ".join("".join(self.root_text).split())
                raise PayloadError(f"XML <{self.root}> holds text instead of <{self.row}> rows: {text[:160]!r}")
            return
        name, children, texts, _ = stack.pop()
        text = ("".join(texts) if len(texts) > 1 else texts[0]).strip() if texts else ""
        if children:
            if text:
                children["text"] = text
            value = children
        else:
            value = text or None
        if not stack:
            self.done.append(value if isinstance(value, dict) else ({"text": value} if value else {}))
        elif name not in stack[-1][1]:
            stack[-1][1][name] = value
        elif stack[-1][3] and name in stack[-1][3]:
            _child_like_attribute(stack[-1], name, value)
        else:
            _add_child(stack[-1][1], name, value)


def _child_like_attribute(parent: tuple, name: str, value) -> None:
    """A child element named like one of its parent's attributes: one value if they agree (a list would mangle a
    key such as ``id``), else the document is ambiguous and fails."""
    parent_name, children, _, attribute_names = parent
    attribute_names.discard(name)  # a further element of that name is a repeat, and makes a list
    if children[name] != value:
        raise PayloadError(f"XML <{parent_name}> has an attribute and a child element both named {name!r}, with "
                           f"different values")


def _attribute_values(attributes: dict) -> dict:
    """An element's attributes by local name; namespace declarations (``xmlns``, ``xmlns:x``) are not data."""
    return {_local(k): v for k, v in attributes.items() if k != "xmlns" and not k.startswith("xmlns:")}


def _add_child(parent: dict, name: str, value) -> None:
    """Repeated elements become a list (element values are never lists otherwise, so this is unambiguous)."""
    if name not in parent:
        parent[name] = value
    elif isinstance(parent[name], list):
        parent[name].append(value)
    else:
        parent[name] = [parent[name], value]


@functools.lru_cache(maxsize=1024)
def _local(name: str) -> str:
    """An element or attribute name without its namespace (names repeat on every row, hence the cache)."""
    return name.rsplit(":", 1)[-1].rsplit("}", 1)[-1]


class _Refused(PayloadError):
    """A DTD or an entity declaration: never expanded, never fetched."""


def _refuse(*_args):
    raise _Refused("a DTD or entity declarations, which are refused")


def xml_rows(source: requests.Response | Iterable[bytes], *, root: str, row: str) -> Iterator[dict]:
    """Row dicts from an XML document ``<root><row>...</row>...</root>``, parsed incrementally with expat.

    Child elements become keys (nested elements dicts, repeated elements lists, empty elements None), attributes
    become keys (one named like a child element must agree with it), namespaces and their declarations are
    dropped. A DTD or entity declaration is refused (no expansion, no external fetch); the root and row element
    names are checked. An empty body or an empty root yields nothing.
    A body that is not XML at all (e.g. a plain-text error) raises PayloadError quoting its start.
    ``source`` is a streamed response or an iterable of byte chunks.
    """
    chunks = body_chunks(source) if isinstance(source, requests.Response) else source
    builder = _RowBuilder(root, row)
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.buffer_text = True  # one call per text run, not one per line or entity
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    head = b""
    has_content = False
    pieces = iter(chunks)
    try:
        for chunk in pieces:
            if not chunk:
                continue
            if len(head) < EXCERPT_CHARS:
                head += chunk[:EXCERPT_CHARS]
            has_content = has_content or bool(chunk.strip())
            parser.Parse(chunk, False)
            yield from builder.done
            builder.done.clear()
        if not has_content:
            return  # an empty body means no rows
        parser.Parse(b"", True)
    except (xml.parsers.expat.ExpatError, _Refused) as exc:
        failure = str(exc)  # quoted with the start of the body: an HTML page (<!DOCTYPE html>) is refused as a DTD
    else:
        yield from builder.done
        return
    for chunk in pieces:  # read a little more, so the message can quote e.g. a plain-text error
        if len(head) >= EXCERPT_CHARS:
            break
        head += chunk[:EXCERPT_CHARS]
    text = head.decode("utf-8", "replace")
    raise PayloadError(f"body is not the expected XML ({failure}); it starts with {_excerpt(text)!r}")
