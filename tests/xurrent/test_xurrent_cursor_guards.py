"""Xurrent cursor guards: the checkpoint after rows out of order, a cap flag on a middle page, the page size
sent, and the one-auth-mode rule."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from shared.config import ConfigError
from tests.harness import run_update
from tests.xurrent.test_xurrent_faults import CONFIGURATION, HOST, pages_out_of_order


@responses.activate
def test_the_checkpoint_after_rows_out_of_order_holds_the_walks_starting_cursor(xurrent, sleeps):
    """README: on rows out of order the connector "checkpoints the cursor back at the value the walk started
    from (rows below the cursor may still be to come)". That checkpoint is what a killed process resumes from:
    it must not hold the earlier pages' largest updated_at (06:00) while rows at 03:00/04:00 are still unread."""
    third = pages_out_of_order([{"id": 1, "updated_at": "2024-01-01T01:00:00Z"}])
    responses.get(third, json=[{"id": 3, "updated_at": "2024-01-01T03:00:00Z"},
                               {"id": 4, "updated_at": "2024-01-01T04:00:00Z"}])
    for table in ("products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    state = {"organizations": {"cursor": "2024-01-01T00:00:00Z"}}
    recorder, final = run_update(xurrent, CONFIGURATION, state)
    # every checkpoint taken before the organizations walk ended claims only the walk's starting cursor
    during = [c for c in recorder.checkpoints if "products" not in c]
    assert during[:-1], "expected a checkpoint when the order broke"
    assert all(c["organizations"] == {"cursor": "2024-01-01T00:00:00Z"} for c in during[:-1]), during
    assert final["organizations"] == {"cursor": "2024-01-01T06:00:00Z"}


@responses.activate
def test_a_cap_signalled_on_a_page_with_a_next_link_still_opens_a_new_window(xurrent, sleeps):
    """README (Unconfirmed): "How X-Pagination-Throttled presents itself (on the capped page only, or with a next
    link): the connector follows next links until the walk ends and then opens a new window either way." A header
    on a middle page, with the last page of the walk not repeating it, must still continue in a new window, or the
    rows past the cap are never read."""
    second = f"{HOST}/projects?search_after=2"
    window = responses.get(f"{HOST}/projects", json=[{"id": 3, "updated_at": "2024-01-01T03:00:00Z"}],
                           match=[responses.matchers.query_param_matcher({"updated_at": ">=2024-01-01T02:00:00Z"},
                                                                         strict_match=False)])
    responses.get(f"{HOST}/projects", headers={"X-Pagination-Throttled": "true", "Link": f'<{second}>; rel="next"'},
                  json=[{"id": 1, "updated_at": "2024-01-01T01:00:00Z"}])
    responses.get(second, json=[{"id": 2, "updated_at": "2024-01-01T02:00:00Z"}])
    for table in ("organizations", "products"):
        responses.get(f"{HOST}/{table}", json=[])
    recorder, state = run_update(xurrent, CONFIGURATION)
    assert window.call_count == 1
    assert [row["id"] for row in recorder.upserts("projects")] == [1, 2, 3]
    assert state["projects"] == {"cursor": "2024-01-01T03:00:00Z"}


@responses.activate
def test_max_records_per_page_is_sent_as_per_page(xurrent, sleeps):
    """README configuration: ``max_records_per_page`` 1-100 is the page size asked for (``per_page``)."""
    for table in ("organizations", "products", "projects"):
        responses.get(f"{HOST}/{table}", json=[])
    run_update(xurrent, {**CONFIGURATION, "max_records_per_page": "25"})
    assert [parse_qs(urlsplit(c.request.url).query)["per_page"] for c in responses.calls] == [["25"]] * 3



@pytest.mark.parametrize("extra", [{"client_id": "app"}, {"client_secret": "app-secret"}])
def test_a_token_with_half_of_the_client_credentials_says_to_choose_one_mode(xurrent, extra):
    """A personal access token plus a stray client_id (or client_secret) is two auth modes: the error must say
    so ("not both"), not ask for the other half of a mode the user did not mean to use."""
    with pytest.raises(ConfigError, match="not both"):
        xurrent.validate_configuration({**CONFIGURATION, **extra})
