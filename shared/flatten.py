"""Nested records to flat rows: ``{"a": {"b": 1}}`` becomes ``{"a_b": 1}``.

Lists become JSON strings (their length varies, so they cannot be columns) and so do objects deeper than
``max_depth``. Keys named in ``json_keys`` are fields whose shape varies between rows (a string in one row, an
object in the next): they are passed through untouched, for a column the connector declares as JSON in
``schema()`` (the SDK encodes the value as JSON). A flattened name that collides with another key raises instead
of silently overwriting it, and so do two names that Fivetran's renaming makes one column (``Name`` and
``name``, ``userId`` and ``user_id``, ``First Name`` and ``first_name``): the destination would keep one of the
two values without a word. ``destination_name`` is that renaming.

``ValueTyper`` types declared columns of a row; a value its converter refuses is kept as text instead of failing
the sync (see there). ``to_decimal`` and ``fits_decimal`` read an amount exactly and say whether a DECIMAL column
holds it.

Public: flatten_record, destination_name, column_clash, to_json, to_flag, FLAG_WORDS, to_decimal, fits_decimal,
quoted, ValueTyper
"""

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

_NOT_NAME_CHARACTER = re.compile(r"[^0-9A-Za-z_]")
_UNDERSCORES = re.compile(r"__+")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # what Decimal reads, less NaN, Infinity, 1_000


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON (stable text for the same value)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def flatten_record(record: dict, *, separator: str = "_", max_depth: int = 3,
                   json_keys: frozenset[str] | set[str] = frozenset()) -> dict:
    """One flat dict; ``json_keys`` are top-level keys passed through whole, for JSON-typed columns."""
    for value in record.values():
        if isinstance(value, (dict, list)):
            break
    else:  # already flat (e.g. every Courier message): a copy is the answer, keys cannot collide but in case
        _check_names(record)
        return dict(record)
    flat: dict = {}
    for key, value in record.items():
        if key in json_keys or not isinstance(value, (dict, list)):
            _put(flat, key, value)
        else:
            _flatten_into(flat, key, value, separator, max_depth, 1)
    _check_names(flat)
    return flat


def destination_name(name: str) -> str:
    """The column (or table) name Fivetran writes for ``name``, by its documented renaming to lower snake case:
    accents dropped; every character but an ASCII letter, digit or underscore made an underscore; a break before
    a capital that follows a small letter, and wherever digits start or stop (so a leading digit gets an
    underscore); runs of underscores made one. ``First Name``, ``firstName`` and ``first_name`` are one column."""
    if not name.isascii():
        name = "".join(c for c in unicodedata.normalize("NFD", name) if unicodedata.category(c) != "Mn")
    name = _NOT_NAME_CHARACTER.sub("_", name)
    out, previous = [], ""
    for character in name:
        if (previous.islower() and character.isupper()) or previous.isdigit() != character.isdigit():
            out.append("_")
        out.append(character.lower())
        previous = character
    return _UNDERSCORES.sub("_", "".join(out))


def column_clash(names: Iterable[str]) -> tuple[str, str] | None:
    """Two of ``names`` that the destination makes one column (see ``destination_name``), or None."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(destination_name(name), name)
        if other != name:
            return other, name
    return None


_CHECKED_NAMES: set[tuple] = set()  # column sets already checked: rows of a table mostly share one
_CHECKED_NAMES_MAX = 10_000


def _check_names(row: dict) -> None:
    """Hot path: one tuple and one set lookup per row; the names are compared only for a new set of them."""
    names = tuple(row)
    if names in _CHECKED_NAMES:
        return
    clash = column_clash(names)
    if clash:
        raise ValueError(f"the record has the keys {clash[0]!r} and {clash[1]!r}, which Fivetran names alike "
                         f"({destination_name(clash[0])!r}): the destination would keep only one of the two values")
    if len(_CHECKED_NAMES) >= _CHECKED_NAMES_MAX:
        _CHECKED_NAMES.clear()
    _CHECKED_NAMES.add(names)


def _flatten_into(flat: dict, name: str, value: Any, separator: str, max_depth: int, depth: int) -> None:
    """``value`` is a dict or a list. Hot path (references such as ``{"id", "name"}`` on every row): scalars
    below a dict are stored here rather than through another call."""
    if isinstance(value, dict) and value and depth <= max_depth:
        for key, inner in value.items():
            column = f"{name}{separator}{key}"
            if isinstance(inner, (dict, list)):
                _flatten_into(flat, column, inner, separator, max_depth, depth + 1)
            elif column in flat:
                _collision(column)
            else:
                flat[column] = inner
    else:
        _put(flat, name, to_json(value))


def _put(flat: dict, name: str, value: Any) -> None:
    if name in flat:
        _collision(name)
    flat[name] = value


def _collision(name: str) -> None:
    raise ValueError(f"flattening produced the column {name!r} twice (a key of that name and a nested key "
                     "that flattens to it); rename one of them")


FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False}


def to_flag(value, words: dict[str, bool] = FLAG_WORDS) -> bool | None:
    """A flag as the source writes it: a bool as it is, blank as None, one of ``words`` in any case; else a
    ValueError (for ``ValueTyper``, or for the connector to name the field)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    flag = words.get(text)
    if flag is None:
        raise ValueError(f"expected a boolean ({', '.join(words)}), got {value!r}")
    return flag


def to_decimal(value) -> Decimal | None:
    """A number exactly, as the source writes it: text (``"296.7600"``, ``"1E+3"``, surrounding spaces) or a JSON
    number (a float by its shortest text, ``0.1`` not 0.1000000000000000055...). Blank is None; anything else (a
    bool, ``"N/A"``, ``"1,234.50"``, NaN, infinity) is a ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, (int, float)) else None
    if isinstance(value, bool) or text is None or not _NUMBER_TEXT.fullmatch(text):
        raise ValueError(f"expected a number, got {str(value)[:40]!r}")
    return Decimal(text)


def fits_decimal(number: Decimal, precision: int, scale: int) -> bool:
    """Whether DECIMAL(precision, scale) holds ``number`` exactly: at most ``scale`` places after the point that are
    not trailing zeros, and ``precision - scale`` digits before it. The destination rounds a longer fraction and
    writes null for a longer whole part, without a word."""
    _, digits, exponent = number.as_tuple()
    if not any(digits):
        return True
    digits = list(digits)
    while exponent < 0 and digits[-1] == 0:  # not Decimal.normalize: it rounds to the context's 28 digits
        digits.pop()
        exponent += 1
    return -exponent <= scale and len(digits) + exponent <= precision - scale


def quoted(value, chars: int = 40) -> str:
    """A source value as an error message quotes it: its repr (text in quotes, so a blank shows), at most ``chars``
    characters, ending in "..." where it was cut."""
    text = repr(value)
    return text if len(text) <= chars else text[:chars - 3] + "..."


class ValueTyper:
    """Converts the typed columns of rows (dates, flags, amounts) for one sync.

    The sources' types are loose: one odd value (``"…"``, ``"N/A"`` in a date) must not stop every sync from then
    on, nor drop its row. So a value the converter refuses (ValueError) leaves the typed column null and is kept,
    as the source's text, in ``<column>_raw``; ``warn`` is told once per column and sync (``where`` names it).
    """

    def __init__(self, warn: Callable[[str], None]):
        self.warn = warn
        self.refused: set[str] = set()

    def convert(self, row: dict, columns: Iterable[str], converter: Callable[[Any], Any], where: str = "") -> None:
        for name in columns:
            if name not in row:
                continue
            try:
                row[name] = converter(row[name])
            except ValueError as error:
                row[f"{name}_raw"], row[name] = str(row[name]), None
                column = f"{where}{name}"
                if column not in self.refused:
                    self.refused.add(column)
                    self.warn(f"{column}: {error}; that value is kept as text in {name}_raw and {name} is null "
                              "(further such values of this column are not logged)")
