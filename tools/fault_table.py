"""The README's table of fault scenarios x connectors, from a pytest JUnit XML report of tests/e2e and
tests/test_contract.py.

    pytest tests/e2e tests/test_contract.py --junitxml build/e2e.xml && python -m tools.fault_table build/e2e.xml
"""

import re
import sys
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

CONNECTORS = ("pindrop", "courier", "customer_thermometer", "aroflo", "xurrent")
SCENARIOS = (  # (label, test-name pattern)
    ("1. transient faults on every route (8 kinds)", r"test_transient_faults_on_every_route"),
    ("2. persistent failure mid-table, then convergence", r"test_a_persistent_failure_mid_table"),
    ("3. crash at a random point in 50,000+ rows, resumed", r"test_a_sync_killed_at_a_random_point"),
    ("4. token expiring mid-sync", r"test_a_token_that_expires_mid_sync"),
    ("5. malformed payload, envelope without its key, AroFlo body statuses",
     r"test_a_malformed_payload|test_an_answer_without_its_envelope_key|test_aroflo_body_status"),
    ("6. canary secrets never printed or written", r"test_canary_secrets_never_leak"),
    ("7. source changes between syncs converge", r"test_the_next_sync_converges_after_the_source_changes"),
)


def results(path: str) -> dict[tuple[str, str], list[bool]]:
    found: dict[tuple[str, str], list[bool]] = {}
    for case in ElementTree.parse(path).iter("testcase"):
        name = case.get("name", "")
        passed = not any(child.tag in ("failure", "error") for child in case)
        for label, pattern in SCENARIOS:
            if re.search(pattern, name):
                connector = next((c for c in CONNECTORS if c in name), "aroflo" if "aroflo" in name else None)
                if connector:
                    found.setdefault((label, connector), []).append(passed)
    return found


def table(path: str) -> str:
    found = results(path)
    lines = ["| Scenario | " + " | ".join(CONNECTORS) + " |", "|---" * (len(CONNECTORS) + 1) + "|"]
    for label, _ in SCENARIOS:
        cells = []
        for connector in CONNECTORS:
            outcomes = found.get((label, connector))
            cells.append("n/a" if outcomes is None else
                         f"pass ({len(outcomes)})" if all(outcomes) else f"FAIL ({outcomes.count(False)})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return "\n".join(lines) + f"\n\nLast run: {stamp} (number of test runs in brackets).\n"


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else "build/e2e.xml"))
