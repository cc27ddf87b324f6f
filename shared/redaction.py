"""Scrub secrets from any text before it reaches a log line or an exception message.

A secret can appear raw, percent-encoded (in a URL), form-encoded or escaped as a ``repr`` quotes it (a value with
a line break, in an error from http.client; one with both quote characters, in a configuration error), so each
registered value is removed in all these spellings, and so is the value stripped of surrounding whitespace (a
configuration reader quotes what it read, stripped). Query parameters and form fields whose *name* looks secret
(``apiKey=...``, ``client_secret=...``) are masked as well, so a key that was never registered still cannot leak
through a URL.

Public: Redactor, MASK
"""

import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits

_SECRET_NAME = (r"(?:api[_-]?key|apikey|key|token|access[_-]?token|refresh[_-]?token|client[_-]?secret|secret"
                r"|password|signature|sig|pencoded|uencoded|orgencoded)")
_SECRET_PAIR = re.compile(rf"(?i)(\b{_SECRET_NAME}=)([^&\s'\"<>]+)")
_SECRET_HEADER = re.compile(r"(?i)(\b(?:authorization|authentication)['\"]?\s*[:=]\s*['\"]?)([^'\"\n]+)")


class Redactor:
    """Knows the secrets of one sync and removes them from text.

    Values are registered directly (``add``) or through a provider called on every ``redact`` (``add_provider``),
    for secrets that change during a sync, such as an OAuth access token.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        self._values: set[str] = set()
        self._providers: list[Callable[[], Iterable[str]]] = []
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        for value in values:
            if value and len(str(value)) >= MIN_SECRET_LENGTH:
                self._values.add(str(value))

    def add_provider(self, provider: Callable[[], Iterable[str]]) -> None:
        self._providers.append(provider)

    def _all_spellings(self) -> list[str]:
        values = set(self._values)
        for provider in self._providers:
            values.update(v for v in provider() if v and len(v) >= MIN_SECRET_LENGTH)
        spellings = set()
        for form in values | {value.strip() for value in values}:  # readers quote a value stripped
            if len(form) >= MIN_SECRET_LENGTH:
                spellings.update({form, quote(form, safe=""), quote_plus(form, safe=""), quote(form),
                                  form.encode("unicode_escape").decode("ascii"),  # as a repr quotes a line break
                                  repr(form)[1:-1]})  # and a quote, when the value holds both kinds
        # Longest first, so a secret that contains another is removed whole.
        return sorted(spellings, key=len, reverse=True)

    def holds_secret(self, text: str) -> bool:
        """Whether a registered secret (in any spelling) is in ``text``; names that look secret do not count."""
        return any(spelling in text for spelling in self._all_spellings())

    def redact(self, text: object) -> str:
        text = str(text)
        for spelling in self._all_spellings():
            text = text.replace(spelling, MASK)
        text = _SECRET_PAIR.sub(lambda m: m.group(1) + MASK, text)
        return _SECRET_HEADER.sub(lambda m: m.group(1) + MASK, text)
