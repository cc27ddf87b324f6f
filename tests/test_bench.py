"""tools/bench.py: the minimum-request arithmetic, the pacing floors and the faster Courier fake it serves."""

from datetime import date

from sandbox.courier import CourierFake
from sandbox.server import Request
from tools import bench


def test_pacing_floor_under_sliding_windows():
    assert bench.floor_s(3, [(1.0, 3)]) == 0.0
    assert bench.floor_s(4, [(1.0, 3)]) == 1.0
    assert bench.floor_s(7, [(1.0, 3)]) == 2.0
    # 120 a minute caps the sustained rate at 2 a second, whatever the per-second limit allows
    assert 60.0 <= bench.floor_s(121, bench.API_LIMITS["aroflo"]["api"]) <= 61.0
    assert bench.floor_s(21, bench.API_LIMITS["xurrent"]["api"]) == 2.0


def test_page_counts_for_the_two_stop_rules():
    assert bench.pages_until_short(0, 500) == 1 and bench.pages_until_short(500, 500) == 2
    assert bench.pages_until_short(499, 500) == 1
    assert bench.pages_by_cursor(0, 10) == 1 and bench.pages_by_cursor(10, 10) == 1
    assert bench.pages_by_cursor(11, 10) == 2


def test_fewest_windows_keep_each_answer_under_the_limit_and_reread_a_multi_day_windows_last_day():
    days = [f"2024-01-{day:02d}" for day in range(1, 11) for _ in range(4)]  # 4 rows a day for 10 days
    first, last = date(2024, 1, 1), date(2024, 1, 20)
    assert bench._fewest_windows([], first, last, 5) == 1
    assert bench._fewest_windows(days, first, last, 100) == 1
    # under 10 rows per window: 2 days each, the next one starting on the last day of the one before
    # (1-2, 2-3, ..., 8-9), then 9 to the end (8 rows: no rows after the 10th)
    assert bench._fewest_windows(days, first, last, 10) == 9


def test_the_faster_courier_fake_answers_like_the_fake():
    plain, fast = CourierFake(counts={"messages": 95}), bench._fast_courier(95)
    after = str(min(m["enqueued"] for m in plain.tables["messages"]) + 40 * 1_800_000)
    headers = {"authorization": f"Bearer {plain.api_key}"}
    for cursor in (None, "messages:10:a+b/c=", "messages:50:a+b/c="):
        query = {"enqueued_after": [after], **({"cursor": [cursor]} if cursor else {})}
        request = Request("GET", "courier", "/messages", query, "", headers)
        assert fast.handle(request).body == plain.handle(request).body
    assert len(fast.tables["messages"]) == 95  # restored after each answer
