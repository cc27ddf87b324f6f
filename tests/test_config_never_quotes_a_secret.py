"""A secret pasted into another configuration key is never quoted back: not in the ConfigError a sync raises (the
sync log), not in the setup test's answer (the setup form), not in what `fivetran debug` prints or writes. Every
connector, every secret key of its form, every other text key of its form, with the sandbox fake's valid
configuration around them; the same clipboard in both keys, as typed, with a trailing space or line break (the
readers quote a value stripped), and holding both quote characters (a repr escapes one of them)."""

import functools

import pytest

from sandbox import registry
from shared.config import ConfigError
from tests.harness import LocalRunner, existing_connectors, load_connector, secret_keys

PASSWORD_FIELD = 1  # form_field.TextField.password
CANARY = "Zq9CanarySecret0123456789abcdef"
SPELLINGS = {"as-typed": CANARY, "trailing-space": CANARY + " ", "trailing-line-break": CANARY + "\n",
             "both-quotes": "Zq9'CanarySecret0123456789\"abcdef"}
SHOWN = "CanarySecret0123456789"  # the part of every spelling that must never show
ANY_TEXT = {("pindrop", "client_id"), ("xurrent", "account_id")}  # keys a secret-like text is a valid value of


connector = functools.lru_cache(maxsize=None)(load_connector)  # validation only: one module per connector serves


def cases():
    for name in existing_connectors():
        module = connector(name)
        fields = module.configuration_form().to_response().fields
        others = [f.name for f in fields if f.text_field != PASSWORD_FIELD and not f.toggle and not f.dropdown_options]
        for secret in secret_keys(module):
            for key in others:
                yield pytest.param(name, secret, key, id=f"{name}-{secret}-in-{key}")


@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("name, secret, key", list(cases()))
def test_a_secret_pasted_into_another_key_is_not_quoted(name, secret, key, spelling):
    module = connector(name)
    pasted = SPELLINGS[spelling]
    configuration = {**registry.make_fake(name).configuration("http://127.0.0.1:1"), secret: pasted, key: pasted}
    try:
        module.validate_configuration(configuration)
    except ConfigError as error:
        assert f"'{key}'" in str(error) or f"'{secret}'" in str(error), str(error)
        assert SHOWN not in str(error), str(error)
        assert error.__context__ is None and error.__cause__ is None, "the original message is chained"
        answer = module.test_connection(configuration)
        assert answer.failure and SHOWN not in answer.failure
    else:
        assert (name, key) in ANY_TEXT, f"{key} accepted {pasted!r}"


@pytest.mark.parametrize("spelling", ["as-typed", "trailing-space", "both-quotes"])
def test_fivetran_debug_with_a_secret_in_base_url_prints_and_writes_no_secret(spelling, tmp_path, monkeypatch, capfd):
    pasted = SPELLINGS[spelling]
    configuration = {**registry.make_fake("courier").configuration("http://127.0.0.1:1"), "api_key": pasted,
                     "base_url": pasted}
    assert LocalRunner("courier", tmp_path, monkeypatch).sync(configuration) is False
    printed = capfd.readouterr()
    written = "".join(path.read_text(errors="replace") for path in tmp_path.rglob("*")
                      if path.is_file() and path.suffix not in (".py", ".pyc", ".db"))
    assert "base_url" in printed.out + printed.err
    assert SHOWN not in printed.out + printed.err + written
