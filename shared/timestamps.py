"""Every source's way of writing time, to one UTC ISO-8601 form.

The output always has six fractional digits and a ``Z`` (``2023-05-23T23:28:15.000000Z``), so two values compare
correctly as strings too, and the SDK reads it for UTC_DATETIME columns.

Public: utc_iso, from_epoch_seconds, from_epoch_millis, parse_iso, parse_format, to_utc_iso, parse_utc
"""

from datetime import date, datetime, timezone

UTC = timezone.utc


def utc_iso(moment: datetime) -> str:
    """A datetime as UTC ISO-8601; a naive datetime is taken to be UTC."""
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # Hot path (every timestamp of every row): isoformat takes a third less time than strftime, and pads a year
    # before 1000 to four digits, as the SDK's parser needs (strftime writes ``1-01-01``, which it refuses).
    text = moment.isoformat(timespec="microseconds")
    return (text[:-6] if moment.tzinfo is not None else text) + "Z"


def from_epoch_seconds(value: int | float | str) -> str:
    return utc_iso(datetime.fromtimestamp(float(value), tz=UTC))


def from_epoch_millis(value: int | float | str) -> str:
    millis = int(float(value))
    seconds, remainder = divmod(millis, 1000)
    return utc_iso(datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=remainder * 1000))


def parse_iso(text: str) -> datetime:
    """ISO-8601 with ``Z``, an offset, or none (then UTC); a date alone is midnight."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(_trim_fraction(cleaned))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _trim_fraction(text: str) -> str:
    """Python 3.10's fromisoformat accepts only 3 or 6 fractional digits: pad or cut to 6."""
    if "." not in text:
        return text
    head, rest = text.split(".", 1)
    digits = len(rest) - len(rest.lstrip("0123456789"))
    fraction, tail = rest[:digits], rest[digits:]
    return f"{head}.{(fraction + '000000')[:6]}{tail}"


def parse_format(text: str, fmt: str, *, assume: timezone = UTC) -> datetime:
    """A vendor format such as ``%Y/%m/%d %H:%M:%S``; naive values are taken in ``assume``."""
    moment = datetime.strptime(text.strip(), fmt)
    return moment if moment.tzinfo else moment.replace(tzinfo=assume)


def to_utc_iso(value, *formats: str) -> str | None:
    """Any ISO string (or one of ``formats``), a datetime or a date, as UTC ISO; blank or None gives None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and not formats:
        whole_seconds = _whole_seconds_utc(value)
        if whole_seconds is not None:
            return whole_seconds
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return utc_iso(datetime(value.year, value.month, value.day))
    for fmt in formats:
        try:
            return utc_iso(parse_format(value, fmt))
        except ValueError:
            continue
    try:
        return utc_iso(parse_iso(value))
    except ValueError:
        raise ValueError(f"unrecognised timestamp {value!r}") from None


def _whole_seconds_utc(text: str) -> str | None:
    """Hot path (a date-time in every row of most sources): ``YYYY-MM-DD HH:MM:SS`` (or with ``T``), naive or
    ``Z``, written out directly after ``fromisoformat`` has checked it is a real time; the same text as the general
    path, in a tenth of its time. None for any other form: 19 characters can also be minutes with an hour offset
    (``2016-03-22T21:02-05``) or a week date (``2016-W12-2T21:02:50``), which fromisoformat reads too."""
    if len(text) == 20 and text[19] in "Zz":
        text = text[:19]
    elif len(text) != 19:
        return None
    if text[10] not in " T" or text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        return None
    try:
        naive = datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return None  # the general path says what is wrong with it
    return f"{text[:10]}T{text[11:]}.000000Z" if naive else None


def parse_utc(text: str) -> datetime:
    """Read back a value written by ``utc_iso`` (or any ISO string) as an aware datetime."""
    return parse_iso(text)
