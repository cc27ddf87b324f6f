"""A secret pasted into another configuration key is never quoted back: not in the ConfigError a sync raises (the
sync log), not in the setup test's answer (the setup form). Every connector, every secret key of its form, every
other text key of its form, with the sandbox fake's valid configuration around them."""

import pytest

from sandbox import registry
from shared.config import ConfigError
from tests.harness import existing_connectors, load_connector, secret_keys

PASSWORD_FIELD = 1  # form_field.TextField.password
CANARY = "Zq9CanarySecret0123456789abcdef"
ANY_TEXT = {("pindrop", "client_id"), ("xurrent", "account_id")}  # keys a secret-like text is a valid value of


def cases():
    for name in existing_connectors():
        module = load_connector(name)
        fields = module.configuration_form().to_response().fields
        others = [f.name for f in fields if f.text_field != PASSWORD_FIELD and not f.toggle and not f.dropdown_options]
        for secret in secret_keys(module):
            for key in others:
                yield pytest.param(name, secret, key, id=f"{name}-{secret}-in-{key}")


@pytest.mark.parametrize("name, secret, key", list(cases()))
def test_a_secret_pasted_into_another_key_is_not_quoted(name, secret, key):
    module = load_connector(name)
    configuration = {**registry.make_fake(name).configuration("http://127.0.0.1:1"), secret: CANARY, key: CANARY}
    try:
        module.validate_configuration(configuration)
    except ConfigError as error:
        assert f"'{key}'" in str(error) or f"'{secret}'" in str(error), str(error)
        assert CANARY not in str(error), str(error)
        assert error.__context__ is None and error.__cause__ is None, "the original message is chained"
        answer = module.test_connection(configuration)
        assert answer.failure and CANARY not in answer.failure
    else:
        assert (name, key) in ANY_TEXT, f"{key} accepted {CANARY!r}"
