"""Low-stock alerts: threshold crossing, hysteresis, grouping and the velocity maths (domain),
and the run itself against in-memory fakes (service)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.adapters.dynamo_alerts import shipped_units_update
from chalicelib.domain.alerts.digest import digest_csv, digest_mail
from chalicelib.domain.alerts.rules import (
    AlertGroup,
    Notice,
    Scope,
    Transfer,
    by_recipient,
    days_of_cover,
    due_for_group,
    excess,
    is_low,
    line_for,
    need,
    recovered,
    suggest_transfer,
    velocity,
)
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import shipped_units
from chalicelib.services.alerts import (
    AlertGroups,
    LowStockAlerts,
    group_from_doc,
    group_to_doc,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
COUNTRIES = {"ber": "DE", "muc": "DE", "vie": "AT"}


def level(sku: str, loc: str, available: int, reorder_point: int, **kw: int) -> StockLevel:
    """A level with ``available`` as given (on_hand = available + reserved + safety)."""
    reserved, safety = kw.get("reserved", 0), kw.get("safety_stock", 0)
    return StockLevel(sku, loc, available + reserved + safety, reserved, safety, reorder_point)


def group(gid: str, scope: Scope, value: str | None, *to: str, daily: bool = False) -> AlertGroup:
    return AlertGroup(gid, scope, value, tuple(to), daily)


def notice(gid: str, sku: str, loc: str, at: datetime) -> Notice:
    return Notice(gid, sku, loc, at.isoformat(), at.isoformat())


# --- threshold crossing ------------------------------------------------------------------------


def test_an_item_is_low_at_its_reorder_point_and_below_not_above():
    assert is_low(level("A", "ber", 5, 5))
    assert is_low(level("A", "ber", 0, 5))
    assert is_low(level("A", "ber", -2, 5))  # a count may leave available negative
    assert not is_low(level("A", "ber", 6, 5))


def test_reserved_and_safety_stock_count_against_the_reorder_point():
    # 10 on hand, 4 reserved, 2 safety: 4 available <= 5
    assert is_low(StockLevel("A", "ber", on_hand=10, reserved=4, safety_stock=2, reorder_point=5))


def test_without_a_reorder_point_an_item_is_never_low():
    assert not is_low(level("A", "ber", 0, 0))


# --- grouping and hysteresis -------------------------------------------------------------------


def test_groups_see_their_location_their_country_or_everything():
    low = [level("A", "ber", 1, 5), level("A", "vie", 0, 5), level("B", "muc", 2, 3)]
    berlin = group("berlin", Scope.LOCATION, "ber", "b@x.io")
    germany = group("de", Scope.COUNTRY, "DE", "de@x.io")
    purchasing = group("buy", Scope.ALL, None, "buy@x.io")

    def due(g: AlertGroup) -> set[tuple[str, str]]:
        return {(lv.sku, lv.location_id) for lv in due_for_group(g, low, COUNTRIES, {}, NOW)}

    assert due(berlin) == {("A", "ber")}
    assert due(germany) == {("A", "ber"), ("B", "muc")}
    assert due(purchasing) == {("A", "ber"), ("A", "vie"), ("B", "muc")}


def test_a_location_of_unknown_country_is_only_seen_by_location_and_all_groups():
    low = [level("A", "popup", 0, 2)]
    assert due_for_group(group("de", Scope.COUNTRY, "DE"), low, {}, {}, NOW) == []
    assert due_for_group(group("all", Scope.ALL, None), low, {}, {}, NOW) == low


def test_a_notified_item_is_not_due_again_while_it_stays_low():
    low = [level("A", "ber", 1, 5)]
    g = group("berlin", Scope.LOCATION, "ber", "b@x.io")
    told = {("A", "ber"): notice("berlin", "A", "ber", NOW - timedelta(days=3))}
    assert due_for_group(g, low, COUNTRIES, told, NOW) == []


def test_a_daily_reminder_repeats_a_still_low_item_once_a_day():
    low = [level("A", "ber", 1, 5)]
    g = group("berlin", Scope.LOCATION, "ber", "b@x.io", daily=True)
    an_hour_ago = {("A", "ber"): notice("berlin", "A", "ber", NOW - timedelta(hours=1))}
    a_day_ago = {("A", "ber"): notice("berlin", "A", "ber", NOW - timedelta(hours=24))}
    assert due_for_group(g, low, COUNTRIES, an_hour_ago, NOW) == []
    assert due_for_group(g, low, COUNTRIES, a_day_ago, NOW) == low


def test_a_notice_is_dropped_only_once_the_item_is_above_its_reorder_point():
    told = {
        ("A", "ber"): notice("g", "A", "ber", NOW),
        ("B", "ber"): notice("g", "B", "ber", NOW),
        ("C", "ber"): notice("g", "C", "ber", NOW),
        ("D", "ber"): notice("g", "D", "ber", NOW),
    }
    current = {
        ("A", "ber"): level("A", "ber", 5, 5),  # still at the reorder point: keep
        ("B", "ber"): level("B", "ber", 6, 5),  # above: recovered
        ("C", "ber"): None,  # the item is gone
    }  # D was not looked at: left alone
    assert sorted(recovered(told, current)) == [("B", "ber"), ("C", "ber")]


def test_one_digest_per_recipient_with_each_item_once_most_urgent_first():
    a = line_for(level("A", "ber", 4, 5), country="DE", units_per_day=2.0, low_since="t",
                 transfer=None)  # fmt: skip
    b = line_for(level("B", "ber", 1, 5), country="DE", units_per_day=1.0, low_since="t",
                 transfer=None)  # fmt: skip
    c = line_for(level("C", "vie", 0, 5), country="AT", units_per_day=0.0, low_since="t",
                 transfer=None)  # fmt: skip
    groups = [
        group("berlin", Scope.LOCATION, "ber", "Ann@x.io", "bob@x.io"),
        group("buy", Scope.ALL, None, "ann@x.io"),
        group("quiet", Scope.LOCATION, "muc", "carl@x.io"),
    ]
    due = {"berlin": [a.key, b.key], "buy": [a.key, c.key], "quiet": []}
    digests = by_recipient(groups, due, {a.key: a, b.key: b, c.key: c})
    assert list(digests) == ["ann@x.io", "bob@x.io"]  # carl has nothing: no mail
    # B: 1 day of cover, A: 2 days, C: no sales (last)
    assert [line.sku for line in digests["ann@x.io"]] == ["B", "A", "C"]
    assert [line.sku for line in digests["bob@x.io"]] == ["B", "A"]


# --- velocity, cover, transfers ----------------------------------------------------------------


def test_velocity_is_units_shipped_over_the_last_14_days_including_today_per_day():
    shipped = {
        TODAY: 7,
        TODAY - timedelta(days=13): 7,  # first day of the window
        TODAY - timedelta(days=14): 100,  # just outside
        TODAY + timedelta(days=1): 100,  # a clock-skewed future day is not history
    }
    assert velocity(shipped, TODAY) == pytest.approx(1.0)
    assert velocity({}, TODAY) == 0.0


def test_days_of_cover_is_available_over_velocity_and_none_without_sales():
    assert days_of_cover(30, 2.5) == pytest.approx(12.0)
    assert days_of_cover(-3, 2.0) == 0.0
    assert days_of_cover(30, 0.0) is None


def test_excess_keeps_the_reorder_point_and_a_week_of_the_donors_own_sales():
    donor = level("A", "muc", 40, 10)
    assert excess(donor, 0.0) == 30
    assert excess(donor, 1.5) == 40 - 10 - 11  # ceil(1.5 * 7)


def test_need_lifts_the_item_above_its_reorder_point_plus_a_week_of_sales():
    assert need(level("A", "ber", 2, 5), 0.0) == 4  # to 6 > 5
    assert need(level("A", "ber", 2, 5), 1.0) == 4 + 7


def test_the_transfer_comes_from_the_location_with_the_most_excess_capped_by_it():
    low = level("A", "ber", 1, 5)
    donors = [
        (level("A", "muc", 12, 5), 0.0),  # excess 7
        (level("A", "vie", 30, 5), 2.0),  # excess 30 - 5 - 14 = 11
        (level("A", "ham", 100, 5), 20.0),  # sells it itself: excess 95 - 140 < 0
        (level("B", "fra", 500, 0), 0.0),  # another SKU
    ]
    assert suggest_transfer(low, 1.0, donors) == Transfer("vie", 11, 11)  # needs 5 + 7 = 12
    assert suggest_transfer(low, 0.0, donors) == Transfer("vie", 5, 11)


def test_no_transfer_without_excess_anywhere_and_ties_go_to_the_first_location_id():
    low = level("A", "ber", 0, 5)
    assert suggest_transfer(low, 1.0, [(level("A", "muc", 5, 5), 0.0)]) is None
    tie = [(level("A", "zrh", 9, 5), 0.0), (level("A", "muc", 9, 5), 0.0)]
    assert suggest_transfer(low, 0.0, tie) == Transfer("muc", 4, 4)


# --- the digest --------------------------------------------------------------------------------


def test_the_digest_has_text_html_and_a_csv_with_one_row_per_line():
    line = line_for(
        level("A&B", "ber", 2, 5, reserved=3),
        country="DE",
        units_per_day=0.5,
        low_since="2026-03-09T08:00:00+00:00",
        transfer=Transfer("muc", 7, 20),
    )
    mail = digest_mail("ann@x.io", [line], today=TODAY, stage="test")
    assert mail.to == ("ann@x.io",)
    assert mail.subject == "[test] Low stock: 1 item at or below the reorder point"
    assert "A&B at ber (DE): 2 available (reorder point 5)" in mail.text
    assert "cover 4.0 days" in mail.text and "7 from muc" in mail.text
    assert "<td" in mail.html and "A&amp;B" in mail.html
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.content_type) == (
        "low-stock-2026-03-10.csv",
        "text/csv",
    )
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode())))
    assert rows == [
        {
            "sku": "A&B",
            "location_id": "ber",
            "country": "DE",
            "available": "2",
            "reorder_point": "5",
            "on_hand": "5",
            "reserved": "3",
            "units_per_day": "0.5000",
            "days_of_cover": "4.00",
            "low_since": "2026-03-09T08:00:00+00:00",
            "transfer_from": "muc",
            "transfer_quantity": "7",
        }
    ]
    assert digest_csv([]).strip() == ",".join(rows[0])


# --- shipped counters --------------------------------------------------------------------------


def test_shipped_lines_give_one_counter_update_per_sku():
    writes = shipped_units("ber", "2026-03-10T17:00:00Z", [("A", 2), ("B", 1), ("A", 3)])
    entries = [shipped_units_update("orders", w) for w in writes]  # as the orders' transaction
    assert [e["Update"]["Key"] for e in entries] == [
        {"pk": {"S": "SHIPPED#A#ber"}, "sk": {"S": "2026-03-10"}},
        {"pk": {"S": "SHIPPED#B#ber"}, "sk": {"S": "2026-03-10"}},
    ]
    assert entries[0]["Update"]["ExpressionAttributeValues"][":q"] == {"N": "5"}


# --- the run, with fakes -----------------------------------------------------------------------


class FakeDocs:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict] = {}

    def put(self, kind: str, item_id: str, doc: dict, *, only_new: bool = False) -> None:
        self.docs[(kind, item_id)] = doc

    def get(self, kind: str, item_id: str) -> dict | None:
        return self.docs.get((kind, item_id))

    def list(self, kind: str) -> list[dict]:
        return [d for (k, _), d in self.docs.items() if k == kind]


class FakeLocation:
    def __init__(self, location_id: str, country: str) -> None:
        self.location_id, self.country = location_id, country


class FakeNetwork:
    def locations(self) -> list:
        return [FakeLocation(loc, c) for loc, c in COUNTRIES.items()]


class FakeStock:
    """Stock levels; ``low_at`` plays the index."""

    def __init__(self) -> None:
        self.levels: dict[tuple[str, str], StockLevel] = {}

    def set(self, lv: StockLevel) -> None:
        self.levels[(lv.sku, lv.location_id)] = lv

    def low_at(self, location_id: str) -> list[StockLevel]:
        return [
            lv
            for lv in self.levels.values()
            if lv.location_id == location_id and lv.available - lv.reorder_point <= 0
        ]

    def for_sku(self, sku: str) -> list[StockLevel]:
        return [lv for lv in self.levels.values() if lv.sku == sku]

    def get_many(self, keys):
        return {k: self.levels[k] for k in keys if k in self.levels}


class FakeState:
    def __init__(self) -> None:
        self.notes: dict[str, dict] = {}
        self.units: dict[tuple[str, str, date], int] = {}
        self.lease: str | None = None

    def notices(self, group_id: str) -> dict:
        return dict(self.notes.get(group_id, {}))

    def save_notices(self, notices) -> None:
        for n in notices:
            self.notes.setdefault(n.group_id, {})[n.key] = n

    def drop_notices(self, group_id: str, keys) -> None:
        for key in keys:
            self.notes.get(group_id, {}).pop(key, None)

    def shipped(self, sku: str, location_id: str, first: date, last: date) -> dict:
        return {
            d: q for (s, loc, d), q in self.units.items() if (s, loc) == (sku, location_id)
            and first <= d <= last
        }  # fmt: skip

    def acquire(self, name: str, holder: str, *, seconds: int) -> bool:
        if self.lease is not None:
            return False
        self.lease = holder
        return True

    def release(self, name: str, holder: str) -> None:
        if self.lease == holder:
            self.lease = None


class FakeMailer:
    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.sent: list = []
        self.failing = failing

    def send(self, mail) -> str:
        if set(mail.to) & set(self.failing):
            raise RuntimeError("MessageRejected")
        self.sent.append(mail)
        return f"m{len(self.sent)}"


@pytest.fixture
def world():
    docs, stock, state, mailer = FakeDocs(), FakeStock(), FakeState(), FakeMailer()
    clock = {"now": NOW}
    groups = AlertGroups(docs)
    service = LowStockAlerts(
        groups=groups,
        network=FakeNetwork(),
        index=stock,
        stock=stock,
        state=state,
        mailer=mailer,
        stage="test",
        clock=lambda: clock["now"],
    )
    return {"groups": groups, "stock": stock, "state": state, "mailer": mailer,
            "service": service, "clock": clock}  # fmt: skip


def test_the_run_mails_a_low_item_once_then_again_only_after_it_recovered(world):
    world["groups"].put(group("berlin", Scope.LOCATION, "ber", "b@x.io"))
    stock, run, sent = world["stock"], world["service"].run, world["mailer"].sent
    stock.set(level("A", "ber", 10, 5))
    assert run().mails_sent == 0  # not low

    stock.set(level("A", "ber", 5, 5))  # crosses the reorder point
    assert run().mails_sent == 1
    assert run().mails_sent == 0  # still low: no repeat
    stock.set(level("A", "ber", 3, 5))
    assert run().mails_sent == 0  # lower still: no repeat

    stock.set(level("A", "ber", 6, 5))  # recovered
    report = run()
    assert (report.mails_sent, report.rearmed) == (0, 1)
    stock.set(level("A", "ber", 4, 5))  # low again
    assert run().mails_sent == 1
    assert len(sent) == 2 and all(m.to == ("b@x.io",) for m in sent)


def test_a_lagging_index_does_not_rearm_an_item_that_is_still_low(world):
    world["groups"].put(group("berlin", Scope.LOCATION, "ber", "b@x.io"))
    world["stock"].set(level("A", "ber", 1, 5))
    world["service"].run()
    world["stock"].low_at = lambda location_id: []  # the index misses it for a moment
    assert world["service"].run().rearmed == 0
    del world["stock"].low_at
    assert world["service"].run().mails_sent == 0


def test_the_run_sends_one_digest_per_recipient_with_velocity_and_a_transfer(world):
    g = world["groups"]
    g.put(group("berlin", Scope.LOCATION, "ber", "store@x.io", "buyer@x.io"))
    g.put(group("buy", Scope.ALL, None, "buyer@x.io"))
    stock, state = world["stock"], world["state"]
    stock.set(level("A", "ber", 2, 5))
    stock.set(level("A", "muc", 40, 10))
    stock.set(level("B", "vie", 0, 1))
    state.units[("A", "ber", TODAY)] = 14
    state.units[("A", "ber", TODAY - timedelta(days=20))] = 500  # outside the window
    report = world["service"].run()
    assert (report.low_items, report.mails_sent, report.notices_saved) == (2, 2, 3)
    by_to = {m.to[0]: m for m in world["mailer"].sent}
    assert set(by_to) == {"store@x.io", "buyer@x.io"}
    rows = list(csv.DictReader(io.StringIO(by_to["buyer@x.io"].attachments[0].data.decode())))
    assert [(r["sku"], r["location_id"]) for r in rows] == [("A", "ber"), ("B", "vie")]
    # 14 units in 14 days: 1/day, 2 days of cover; muc gives min(30 - 7, 5 - 2 + 1 + 7)
    assert (rows[0]["units_per_day"], rows[0]["days_of_cover"]) == ("1.0000", "2.00")
    assert (rows[0]["transfer_from"], rows[0]["transfer_quantity"]) == ("muc", "11")
    assert rows[1]["transfer_from"] == ""
    assert "A at ber" in by_to["store@x.io"].text and "B at vie" not in by_to["store@x.io"].text


def test_a_group_whose_only_mail_failed_is_tried_again_next_run(world):
    world["groups"].put(group("berlin", Scope.LOCATION, "ber", "bad@x.io"))
    world["groups"].put(group("buy", Scope.ALL, None, "buyer@x.io"))
    world["mailer"].failing = ("bad@x.io",)
    world["stock"].set(level("A", "ber", 1, 5))
    first = world["service"].run()
    assert (first.mails_sent, first.failed_recipients) == (1, ["bad@x.io"])
    world["mailer"].failing = ()
    second = world["service"].run()
    assert second.mails_sent == 1 and world["mailer"].sent[-1].to == ("bad@x.io",)
    assert world["service"].run().mails_sent == 0


def test_a_daily_reminder_keeps_the_first_low_since(world):
    world["groups"].put(group("berlin", Scope.LOCATION, "ber", "b@x.io", daily=True))
    world["stock"].set(level("A", "ber", 1, 5))
    world["service"].run()
    world["clock"]["now"] = NOW + timedelta(hours=2)
    assert world["service"].run().mails_sent == 0
    world["clock"]["now"] = NOW + timedelta(days=1)
    assert world["service"].run().mails_sent == 1
    (n,) = world["state"].notes["berlin"].values()
    assert (n.low_since, n.notified_at) == (NOW.isoformat(), (NOW + timedelta(days=1)).isoformat())


def test_a_run_that_finds_the_lease_taken_sends_nothing(world):
    world["groups"].put(group("buy", Scope.ALL, None, "buyer@x.io"))
    world["stock"].set(level("A", "ber", 1, 5))
    world["state"].lease = "someone else"
    assert world["service"].run().skipped
    assert world["mailer"].sent == []


def test_groups_round_trip_through_their_documents():
    g = group("de", Scope.COUNTRY, "DE", "a@x.io", daily=True)
    assert group_from_doc(group_to_doc(g)) == g
