"""Low-stock alerts: recipient groups (admin) and the scheduled digest run.

A run (``LowStockAlerts.run``, hourly by default):
1. takes a lease, so two deliveries of the same schedule never mail twice;
2. finds the low items with one index query per location (never a table scan);
3. drops the notices of items that recovered (checked on the table, not the index), which
   re-arms them;
4. works out per group what is due (new, or a daily reminder), and per item the velocity,
   days of cover and a suggested transfer;
5. sends one digest per recipient (the union of their groups), then records a notice for every
   (group, item) that reached at least one of the group's recipients. A group whose every mail
   failed is tried again next run; a crash between sending and recording may repeat a mail,
   never lose one.

The velocity counts come from ``ShippedUnits`` (``domain.order.writes``), written with the
order whose shipment left the location.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.alerts.digest import digest_mail
from chalicelib.domain.alerts.rules import (
    VELOCITY_DAYS,
    AlertGroup,
    DigestLine,
    ItemKey,
    Notice,
    Scope,
    by_recipient,
    due_for_group,
    is_low,
    key_of,
    line_for,
    recovered,
    suggest_transfer,
    velocity,
)
from chalicelib.domain.catalog import Kind
from chalicelib.domain.mail import Mail
from chalicelib.domain.network import Location, StockLevel

logger = Logger(service="dirigent")

LEASE = "low-stock-alerts"
LEASE_SECONDS = 600


# --- ports -------------------------------------------------------------------------------------


class Documents(Protocol):
    def put(
        self, kind: str, item_id: str, doc: dict[str, Any], *, only_new: bool = False
    ) -> None: ...
    def get(self, kind: str, item_id: str) -> dict[str, Any] | None: ...
    def list(self, kind: str) -> list[dict[str, Any]]: ...


class Locations(Protocol):
    def locations(self) -> list[Location]: ...


class LowStockIndex(Protocol):
    def low_at(self, location_id: str) -> list[StockLevel]: ...


class StockReader(Protocol):
    def for_sku(self, sku: str) -> list[StockLevel]: ...
    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StockLevel]: ...


class AlertStore(Protocol):
    def notices(self, group_id: str) -> dict[ItemKey, Notice]: ...
    def save_notices(self, notices: Iterable[Notice]) -> None: ...
    def drop_notices(self, group_id: str, keys: Iterable[ItemKey]) -> None: ...
    def shipped(self, sku: str, location_id: str, first: date, last: date) -> dict[date, int]: ...
    def acquire(self, name: str, holder: str, *, seconds: int) -> bool: ...
    def release(self, name: str, holder: str) -> None: ...


class Mailer(Protocol):
    def send(self, mail: Mail) -> str: ...


# --- recipient groups --------------------------------------------------------------------------


def group_from_doc(doc: Mapping[str, Any]) -> AlertGroup:
    return AlertGroup(
        group_id=str(doc["group_id"]),
        scope=Scope(doc["scope"]),
        value=doc.get("value"),
        recipients=tuple(doc.get("recipients", ())),
        daily_reminder=bool(doc.get("daily_reminder", False)),
    )


def group_to_doc(group: AlertGroup) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "scope": group.scope.value,
        "value": group.value,
        "recipients": list(group.recipients),
        "daily_reminder": group.daily_reminder,
    }


class AlertGroups:
    """Recipient groups as catalog documents (small, cached by the catalog adapter)."""

    def __init__(self, docs: Documents) -> None:
        self._docs = docs

    def put(self, group: AlertGroup) -> AlertGroup:
        self._docs.put(Kind.ALERT_GROUP, group.group_id, group_to_doc(group))
        return group

    def get(self, group_id: str) -> AlertGroup | None:
        doc = self._docs.get(Kind.ALERT_GROUP, group_id)
        return group_from_doc(doc) if doc else None

    def list(self) -> list[AlertGroup]:
        groups = [group_from_doc(d) for d in self._docs.list(Kind.ALERT_GROUP)]
        return sorted(groups, key=lambda g: g.group_id)


# --- the run -----------------------------------------------------------------------------------


@dataclass
class RunReport:
    skipped: bool = False  # another run holds the lease
    low_items: int = 0
    rearmed: int = 0  # notices dropped because their item recovered
    mails_sent: int = 0
    failed_recipients: list[str] = field(default_factory=list)
    notices_saved: int = 0


@dataclass
class _Pass:
    """What one run works on."""

    now: datetime
    countries: dict[str, str]
    low: dict[ItemKey, StockLevel]
    notices: dict[str, dict[ItemKey, Notice]]
    due: dict[str, list[ItemKey]] = field(default_factory=dict)


class LowStockAlerts:
    def __init__(
        self,
        *,
        groups: AlertGroups,
        network: Locations,
        index: LowStockIndex,
        stock: StockReader,
        state: AlertStore,
        mailer: Mailer,
        stage: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._groups, self._network, self._index = groups, network, index
        self._stock, self._state, self._mailer = stock, state, mailer
        self._stage, self._clock = stage, clock

    def run(self) -> RunReport:
        groups = self._groups.list()
        if not groups:
            return RunReport()
        holder = uuid.uuid4().hex
        if not self._state.acquire(LEASE, holder, seconds=LEASE_SECONDS):
            logger.info("low-stock alerts: another run holds the lease")
            return RunReport(skipped=True)
        try:
            return self._run(groups)
        finally:
            self._state.release(LEASE, holder)

    def _run(self, groups: Sequence[AlertGroup]) -> RunReport:
        countries = {loc.location_id: loc.country for loc in self._network.locations()}
        low = {key_of(lvl): lvl for loc in countries for lvl in self._index.low_at(loc)}
        low = {k: lvl for k, lvl in low.items() if is_low(lvl)}
        run = _Pass(
            now=self._clock(),
            countries=countries,
            low=low,
            notices={g.group_id: self._state.notices(g.group_id) for g in groups},
        )
        report = RunReport(low_items=len(low), rearmed=self._rearm(run))
        for group in groups:
            items = due_for_group(
                group, low.values(), countries, run.notices[group.group_id], run.now
            )
            run.due[group.group_id] = [key_of(lvl) for lvl in items]
        lines = self._lines(run)
        delivered = self._send(by_recipient(groups, run.due, lines), run.now.date(), report)
        report.notices_saved = self._remember(groups, run, delivered)
        logger.info("low-stock alerts sent", **vars(report))
        return report

    def _rearm(self, run: _Pass) -> int:
        """Drop notices of items that are no longer low; the table (not the lagging index)
        has the last word."""
        candidates = {k for notices in run.notices.values() for k in notices if k not in run.low}
        if not candidates:
            return 0
        fresh = self._stock.get_many(candidates)
        current = {k: fresh.get(k) for k in candidates}
        dropped = 0
        for group_id, notices in run.notices.items():
            gone = recovered(notices, current)
            if gone:
                self._state.drop_notices(group_id, gone)
                for key in gone:
                    del notices[key]
                dropped += len(gone)
        return dropped

    def _lines(self, run: _Pass) -> dict[ItemKey, DigestLine]:
        wanted = sorted({k for keys in run.due.values() for k in keys})
        today = run.now.date()
        first = today - timedelta(days=VELOCITY_DAYS - 1)
        speeds: dict[ItemKey, float] = {}

        def speed(sku: str, location_id: str) -> float:
            if (sku, location_id) not in speeds:
                shipped = self._state.shipped(sku, location_id, first, today)
                speeds[(sku, location_id)] = velocity(shipped, today)
            return speeds[(sku, location_id)]

        by_sku = {sku: self._stock.for_sku(sku) for sku in {s for s, _ in wanted}}
        lines = {}
        for key in wanted:
            level = run.low[key]
            donors = [
                (other, speed(other.sku, other.location_id))
                for other in by_sku[level.sku]
                if other.location_id != level.location_id
                and other.available > max(other.reorder_point, 0)
            ]
            since = [n[key].low_since for n in run.notices.values() if key in n]
            lines[key] = line_for(
                level,
                country=run.countries.get(level.location_id, ""),
                units_per_day=speed(*key),
                low_since=min(since, default=run.now.isoformat(timespec="seconds")),
                transfer=suggest_transfer(level, speed(*key), donors),
            )
        return lines

    def _send(
        self, digests: Mapping[str, Sequence[DigestLine]], today: date, report: RunReport
    ) -> set[str]:
        delivered = set()
        for recipient, lines in digests.items():
            try:
                self._mailer.send(digest_mail(recipient, lines, today=today, stage=self._stage))
            except Exception:  # one bad address must not stop the others
                logger.exception("low-stock digest not sent", recipient=recipient)
                report.failed_recipients.append(recipient)
                continue
            delivered.add(recipient)
            report.mails_sent += 1
        return delivered

    def _remember(self, groups: Sequence[AlertGroup], run: _Pass, delivered: set[str]) -> int:
        stamp = run.now.isoformat(timespec="seconds")
        saved = []
        for group in groups:
            if not any(r.strip().lower() in delivered for r in group.recipients):
                continue
            known = run.notices[group.group_id]
            for sku, location_id in run.due[group.group_id]:
                before = known.get((sku, location_id))
                since = before.low_since if before else stamp
                saved.append(Notice(group.group_id, sku, location_id, since, stamp))
        self._state.save_notices(saved)
        return len(saved)
