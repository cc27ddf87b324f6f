"""Turn any failure of a connector's setup test into one actionable sentence, without a secret in it.

A setup test must never raise: an exception escaping it is printed with its traceback, and the SDK's crash report
for ``fivetran configuration --test`` redacts nothing. ``explain_failure`` runs the check and returns None on
success or a message that says what to fix.

Public: explain_failure
"""

from collections.abc import Callable

from shared.config import ConfigError
from shared.http_client import AUTH_FAILURE_STATUSES, HttpError, TransportError
from shared.pagination import PaginationError
from shared.parsing import PayloadError
from shared.redaction import Redactor


def explain_failure(check: Callable[[], object], *, service: str, host_keys: str,
                    secrets: tuple[str, ...] = ()) -> str | None:
    """Run ``check``; None if it passed, else what went wrong and which configuration keys (``host_keys``, quoted
    as the message shows them) to look at."""
    scrub = Redactor(secrets)
    try:
        check()
    except ConfigError as error:
        return str(error)
    except HttpError as error:
        if error.status in AUTH_FAILURE_STATUSES:
            return scrub.redact(f"{service} refused the credentials: {error}")
        return scrub.redact(f"{service} answered with an error: {error}. Check {host_keys}.")
    except TransportError as error:
        return scrub.redact(f"Could not reach {service} ({error}). Check {host_keys} and the network path to it.")
    except (PayloadError, PaginationError) as error:
        return scrub.redact(f"{service} answered, but not in the documented format ({error}). Check {host_keys}.")
    except Exception as error:  # noqa: BLE001 - a setup test reports every failure instead of raising
        return scrub.redact(f"Setup check failed: {type(error).__name__}: {error}")
    return None
