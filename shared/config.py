"""Typed readers for Fivetran configuration values, which always arrive as strings.

Each reader names the key and the expected form in its error, rejects template placeholders such as
``<YOUR_API_KEY>``, and treats an empty or absent optional value as its default. An optional key left at its
template placeholder (``<OPTIONAL_...>``, as every connector's configuration.json writes them) is absent too: the
placeholder itself says which default applies. Secret values are never echoed in an error, nor is a secret
pasted into another key: a connector's ``validate_configuration`` is wrapped in ``quoting_no_secret``.

Public: ConfigError, is_placeholder, text, integer, number, boolean, day, choice, items, url, quoting_no_secret
"""

import functools
import math
import re
from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit

from shared.redaction import Redactor

_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$|^\s*(your|enter|insert)[ _-]|_here\s*$|^\s*(changeme|todo|xxx+)\s*$", re.I)
_OPTIONAL_PLACEHOLDER = "<OPTIONAL"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key and the expected form."""


def quoting_no_secret(*secret_keys: str) -> Callable:
    """Decorate a ``validate_configuration(configuration)``: its ConfigError never quotes the value of one of
    ``secret_keys``, even from another key (a key pasted into ``base_url`` is quoted as that key's bad value).
    The message goes to the sync log and the setup form, so it is rewritten, and the original is not chained."""

    def decorate(read: Callable[[dict], object]) -> Callable[[dict], object]:
        @functools.wraps(read)
        def validate(configuration: dict):
            try:
                return read(configuration)
            except ConfigError as error:
                values = [str(value) for key in secret_keys if (value := (configuration or {}).get(key))]
                failure = Redactor(values).redact(str(error))
            raise ConfigError(failure)

        return validate

    return decorate


def is_placeholder(value) -> bool:
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


def _raw(config: dict, key: str, secret: bool = False, required: bool = False):
    """The stripped value, or None when absent, blank or an optional key's placeholder; other placeholders raise,
    advising removal only for an optional key (a required one removed fails again, as missing)."""
    value = (config or {}).get(key)
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().upper().startswith(_OPTIONAL_PLACEHOLDER):
            return None
        if is_placeholder(value):
            shown = "" if secret else f" ({value.strip()!r})"
            remedy = "replace it with a real value" + ("" if required else " or remove it")
            raise ConfigError(f"configuration key '{key}' still holds the template placeholder{shown}; {remedy}")
        value = value.strip()
        return value or None
    return value


def _fail(key: str, expected: str, value, secret: bool = False):
    shown = "" if secret else f", got {value!r}"
    raise ConfigError(f"configuration key '{key}': expected {expected}{shown}")


def text(config: dict, key: str, *, required: bool = False, default: str | None = None,
         secret: bool = False) -> str | None:
    value = _raw(config, key, secret, required)
    if value is None:
        if required:
            raise ConfigError(f"configuration key '{key}' is required")
        return default
    if not isinstance(value, str):
        _fail(key, "a string", value, secret)
    if secret and _CONTROL.search(value):
        # Sent in a header, such a value fails in http.client with an error that quotes it, escaped past redaction.
        raise ConfigError(f"configuration key '{key}' contains a line break or another control character (was it "
                          "pasted across lines?); enter it on one line")
    return value


def integer(config: dict, key: str, *, default: int | None, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    value = _raw(config, key)
    expected = _range_text("an integer", minimum, maximum)
    if value is None:
        return default
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", str(value)):
        _fail(key, expected, value)
    number_value = int(value)
    if (minimum is not None and number_value < minimum) or (maximum is not None and number_value > maximum):
        _fail(key, expected, value)
    return number_value


def number(config: dict, key: str, *, default: float | None, minimum: float | None = None,
           maximum: float | None = None) -> float | None:
    value = _raw(config, key)
    expected = _range_text("a number", minimum, maximum)
    if value is None:
        return default
    try:
        number_value = float(value)
    except (TypeError, ValueError):
        _fail(key, expected, value)
    if not math.isfinite(number_value) or (minimum is not None and number_value < minimum) or (
            maximum is not None and number_value > maximum):
        _fail(key, expected, value)
    return number_value


def _range_text(kind: str, minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{kind} of at least {minimum}"
    if maximum is not None:
        return f"{kind} of at most {maximum}"
    return kind


def boolean(config: dict, key: str, *, default: bool) -> bool:
    value = _raw(config, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    _fail(key, "true or false", value)


def day(config: dict, key: str, *, default: date | None = None, today: date | None = None) -> date | None:
    """A YYYY-MM-DD day. ``today`` (the sync's, UTC): a later day is refused, since a start date in the future
    would read nothing, sync after sync, without saying so."""
    value = _raw(config, key)
    if value is None:
        return default
    parsed = value if isinstance(value, date) else _iso_day(value)
    if parsed is None:
        _fail(key, "a date as YYYY-MM-DD", value)
    if today is not None and parsed > today:
        _fail(key, f"a day no later than today ({today.isoformat()}, UTC)", str(value))
    return parsed


def _iso_day(value) -> date | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            pass
    return None


def choice(config: dict, key: str, options: list[str] | tuple[str, ...], *, default: str | None) -> str | None:
    value = _raw(config, key)
    if value is None:
        return default
    lowered = str(value).lower()
    if lowered not in options:
        _fail(key, f"one of {', '.join(options)}", value)
    return lowered


def items(config: dict, key: str, *, options: list[str] | tuple[str, ...] | None = None,
          default: list[str] | tuple[str, ...] = ()) -> list[str]:
    """A comma-separated list (duplicates dropped, order kept); with ``options``, every item must be one of them."""
    value = _raw(config, key)
    if value is None:
        return list(default)
    parts = value if isinstance(value, list) else str(value).split(",")
    chosen = list(dict.fromkeys(str(part).strip().lower() for part in parts if str(part).strip()))
    unknown = [part for part in chosen if options is not None and part not in options]
    if unknown or not chosen:
        expected = "a comma-separated list" + (f" of {', '.join(options)}" if options else "")
        _fail(key, expected, value)
    return chosen


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def url(config: dict, key: str, *, default: str) -> str:
    """An https base URL without a trailing slash; plain http only on this machine (a local fake or proxy), so
    credentials never cross a network in clear text."""
    value = _raw(config, key)
    if value is None:
        return default.rstrip("/")
    match = re.fullmatch(r"(https?)://([^\s/?#]+)(/[^\s?#]*)?", str(value))
    if not match:
        _fail(key, "an https URL such as https://api.example.com", value)
    try:
        _port = urlsplit(str(value)).port  # a stray bracket or a port that is not a number: urllib fails later
    except ValueError:
        _fail(key, "an https URL such as https://api.example.com", value)
    host = re.sub(r":\d*$", "", match.group(2)).lower()  # without its port ("[::1]" keeps its own colons)
    if match.group(1) == "http" and host not in _LOOPBACK_HOSTS:
        _fail(key, "https (plain http only for 127.0.0.1, localhost or [::1])", value)
    return str(value).rstrip("/")
