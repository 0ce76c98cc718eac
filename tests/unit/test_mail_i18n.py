"""Customer mails in the channel's language and locale: every string table is complete, every
mail renders in every language with no string missing or unused, Babel's formats per locale,
the channel's name and sender, and the switch that sends no customer mail at all."""

from __future__ import annotations

import re
from dataclasses import replace
from string import Template
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.adapters.ses import mime_message
from chalicelib.domain.channel import Channel, ChannelKind
from chalicelib.domain.mail import MAIL_LANGUAGES, Mail
from chalicelib.domain.network import Address
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    ShipmentStatus,
)
from chalicelib.domain.returns.model import Refund, RmaStatus
from chalicelib.services import mail_i18n, notifications
from chalicelib.services.mail_i18n import STRINGS, TEMPLATES, Wording, strings
from chalicelib.services.notifications import Delay, Notifier

CUSTOMER_MAILS = ("confirmation", "shipped", "delayed", "promise_moved", "return_received")
SETTINGS = SimpleNamespace(track_url="https://track.example", service_email="cs@shop.example")


def _placeholders(text: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in Template.pattern.finditer(text)} - {None}


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> str:
        self.sent.append(mail)
        return f"m{len(self.sent)}"


def channel(**kw: Any) -> Channel:
    base = Channel(
        channel="webshop-ch",
        kind=ChannelKind.WEBSHOP,
        currencies=frozenset({"CHF"}),
        countries=frozenset({"CH"}),
    )
    return replace(base, **kw)


def order(name: str = "Ada <Lovelace>") -> Order:
    shipment = OrderShipment(
        shipment_id="o1-1",
        location_id="st-zuerich",
        lines={"SKU-1": 1234},
        mode=DeliveryMode.SHIP,
        carrier_service="parcel-ch",
        ship_date="2026-03-04",
        promised_date="2026-03-05",
        status=ShipmentStatus.SHIPPED,
        carrier="ParcelCo",
        tracking_number="TN-1",
    )
    return Order(
        order_id="o1",
        channel="webshop-ch",
        channel_order_id="CH-1",
        currency="CHF",
        customer={"email": "ada@example.com", "name": name},
        ship_to=Address(country="CH", postal_code="8001"),
        lines=[OrderLine("SKU-1", 1234, 100), OrderLine("SKU-2", 2, 100)],
        shipments=[shipment],
        created_at="2026-03-02T10:00:00+00:00",
        delivery={"promised_date": "2026-03-05"},
        token_hash="",
        request_hash="",
        backorders={"SKU-2": 2},
    )


def notifier(outbox: Outbox, found: Channel | None) -> Notifier:
    return Notifier(
        mailer=outbox,
        token_for=lambda _: "tok",
        settings=SETTINGS,
        channel_for=lambda _: found,
    )


def send_every_mail(n: Notifier, o: Order) -> None:
    rma = SimpleNamespace(rma_id="R-1", status=RmaStatus.REFUNDED)
    receipt = SimpleNamespace(refund=Refund("e1", "2026-03-09", "CHF", 123_000, 450, {"SKU-1": 2}))
    n.confirmation(o)
    n.shipped(o, o.shipments[0])
    n.delayed(
        o,
        Delay(
            resourced=[("SKU-1", 2, "2026-03-12")],
            backordered={"SKU-2": 1},
            cancelled={"SKU-3": 1},
        ),
    )
    n.promise_moved(o, [("SKU-2", "2026-03-05", "2026-03-20"), ("SKU-2", "2026-03-05", "")])
    n.return_received(o, rma, receipt)


# --- the string tables ------------------------------------------------------------------------


def test_a_string_table_ships_for_exactly_the_mail_languages():
    assert sorted(p.stem for p in STRINGS.glob("*.json")) == sorted(MAIL_LANGUAGES)


@pytest.mark.parametrize("language", [lang for lang in MAIL_LANGUAGES if lang != "en"])
def test_every_language_has_every_key_with_the_same_placeholders(language):
    english, other = strings("en"), strings(language)
    assert sorted(other) == sorted(english), "keys missing or extra"
    for key, text in english.items():
        assert _placeholders(other[key]) == _placeholders(text), key
        assert other[key].strip(), key


@pytest.mark.parametrize("language", [lang for lang in MAIL_LANGUAGES if lang != "en"])
def test_every_subject_and_sentence_is_translated_not_copied(language):
    same = [
        key
        for key, text in strings("en").items()
        if strings(language)[key] == text
        and re.search(
            r"[a-z]{3}", Template(text).substitute(dict.fromkeys(_placeholders(text), ""))
        )
    ]
    assert same == [], f"{language} repeats the English of {same}"


@pytest.mark.parametrize("language", MAIL_LANGUAGES)
def test_every_mail_renders_in_every_language_and_uses_every_string(language, monkeypatch):
    used: set[str] = set()
    table = strings(language)

    class Recording(dict[str, str]):
        def __getitem__(self, key: str) -> str:
            used.add(key)
            return table[key]  # a missing key raises: the mail cannot be rendered

    monkeypatch.setattr(mail_i18n, "strings", lambda _: Recording(table))
    outbox = Outbox()
    send_every_mail(notifier(outbox, channel(language=language)), order())
    assert len(outbox.sent) == len(CUSTOMER_MAILS)
    o, receipt = order(), SimpleNamespace(refund=Refund("e", "2026-03-09", "CHF", 100, 0, {}))
    vague = order()  # no promised date, no carrier named
    vague.delivery, vague.shipments[0].carrier = {}, None
    n = notifier(Outbox(), channel(language=language))
    n.confirmation(vague)
    n.shipped(vague, vague.shipments[0])
    for status in RmaStatus:  # each status has its own words
        n = notifier(Outbox(), channel(language=language))
        n.return_received(o, SimpleNamespace(rma_id="R", status=status), receipt)
    assert used == set(table), f"unused strings: {sorted(set(table) - used)}"
    for mail in outbox.sent:
        for body in (mail.subject, mail.text, mail.html):
            assert "$" not in body  # every placeholder of layout and strings was filled
        assert f'lang="{language}"' in mail.html
        assert "<Lovelace>" not in mail.html and "&lt;Lovelace&gt;" in mail.html


def test_every_customer_mail_has_both_layouts_with_the_same_fields():
    for name in CUSTOMER_MAILS:
        text = (TEMPLATES / f"{name}.txt").read_text(encoding="utf-8")
        page = (TEMPLATES / f"{name}.html").read_text(encoding="utf-8")
        assert _placeholders(page) - {"lang"} == _placeholders(text), name


# --- formats ----------------------------------------------------------------------------------


def test_babel_formats_money_in_the_locale():
    assert Wording("de", "de_CH").money(123_450, "CHF") == "CHF\u00a01\u2019234.50"
    assert Wording("de", "de_DE").money(123_450, "EUR") == "1.234,50\u00a0€"
    assert Wording("fr", "fr_FR").money(123_450, "EUR") == "1\u202f234,50\u00a0€"
    assert Wording("nl", "nl_NL").money(123_450, "EUR") == "€\u00a01.234,50"
    assert Wording("en").money(500, "JPY") == "¥500"  # no minor unit: 500 is 500 yen


def test_babel_writes_dates_and_numbers_in_the_locale():
    assert Wording("fr", "fr_FR").date("2026-03-05") == "5 mars 2026"
    assert Wording("de", "de_CH").date("2026-03-05") == "5. März 2026"
    assert Wording("nl").date("2026-03-05T10:00:00+00:00") == "5 maart 2026"
    assert Wording("en").date("2026-03-05") == "March 5, 2026"
    assert Wording("en").date("not a date") == "not a date"
    assert Wording("de", "de_CH").number(1234) == "1\u2019234"


def test_an_unknown_locale_falls_back_to_the_language():
    assert Wording("fr", "fr_ZZ").locale == "fr"
    assert Wording("xx").language == "en"


def test_the_formatting_locale_comes_from_the_language_and_the_country():
    assert channel(language="de").formatting_locale() == "de_CH"  # sells to CH only
    assert channel(language="fr", locale="fr-CH").formatting_locale() == "fr_CH"
    several = channel(countries=frozenset({"FR", "BE"}), language="fr")
    assert several.formatting_locale() == "fr_FR"
    assert channel(countries=frozenset({"DE", "AT"}), language="nl").formatting_locale() == "nl"


def test_a_swiss_order_mails_in_german_with_swiss_francs():
    outbox = Outbox()
    n = notifier(outbox, channel(language="de", display_name="Dirigent Schweiz"))
    send_every_mail(n, order("Grace"))
    confirmation, shipped, _, moved, returned = outbox.sent
    assert confirmation.subject == "Ihre Bestellung CH-1 ist bestätigt"
    assert confirmation.text.startswith("Hallo Grace,\n\nvielen Dank für Ihre Bestellung CH-1.")
    assert "- 1\u2019234 x SKU-1" in confirmation.text
    assert "Zugesagte Lieferung: 5. März 2026" in confirmation.text
    assert "Wartet auf Ware: 2 x SKU-2." in confirmation.text
    assert confirmation.text.rstrip().endswith("Dirigent Schweiz")
    assert "Sendungsnummer: <strong>TN-1</strong>" in shipped.html
    assert "2 x SKU-2: jetzt erwartet am 20. März 2026 (bisher 5. März 2026)" in moved.text
    assert "2 x SKU-2: neuer Termin folgt (bisher 5. März 2026)" in moved.text
    assert "Erstattung: CHF\u00a01\u2019234.50 (davon Versand CHF\u00a04.50)" in returned.text
    assert "Status der Rücksendung: erstattet" in returned.text
    assert "<strong>R-1</strong>" in returned.html


def test_a_french_mail_writes_the_date_the_french_way():
    outbox = Outbox()
    french = channel(countries=frozenset({"FR"}), currencies=frozenset({"EUR"}), language="fr")
    notifier(outbox, french).confirmation(order("Marie"))
    (mail,) = outbox.sent
    assert mail.subject == "Votre commande CH-1 est confirmée"
    assert mail.text.startswith("Bonjour Marie,\n\nMerci pour votre commande CH-1.")
    assert "Livraison promise\u00a0: 5 mars 2026" in mail.text
    assert "Livraison promise\u00a0: <strong>5 mars 2026</strong>" in mail.html


def test_without_a_channel_mails_are_english_and_signed_with_the_channel_id():
    outbox = Outbox()
    notifier(outbox, None).confirmation(order("Ada"))
    (mail,) = outbox.sent
    assert mail.subject == "Your order CH-1 is confirmed"
    assert "Promised delivery: March 5, 2026" in mail.text
    assert mail.text.rstrip().endswith("webshop-ch") and mail.sender == ""


# --- name, sender and the switch ---------------------------------------------------------------


def test_the_channel_sender_becomes_the_from_address():
    outbox = Outbox()
    notifier(outbox, channel(mail_from="schweiz@dirigent.example")).shipped(
        order(), order().shipments[0]
    )
    (mail,) = outbox.sent
    assert mail.sender == "schweiz@dirigent.example"
    message = mime_message(mail, sender="orders@dirigent.example")
    assert message["From"] == "schweiz@dirigent.example"
    assert str(message["Message-ID"]).endswith("@dirigent.example>")
    assert mime_message(replace(mail, sender=""), sender="orders@x.example")["From"] == (
        "orders@x.example"
    )


def test_a_channel_without_customer_mail_gets_none_and_the_skip_is_logged(monkeypatch):
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        notifications,
        "logger",
        SimpleNamespace(info=lambda message, **keys: logged.append((message, keys))),
    )
    outbox = Outbox()
    n = notifier(outbox, channel(customer_mail=False))
    send_every_mail(n, order())
    assert outbox.sent == []
    assert [keys["mail"] for _, keys in logged] == list(CUSTOMER_MAILS)
    assert {(message, keys["channel"], keys["order_id"]) for message, keys in logged} == {
        ("customer mail skipped: the channel sends none", "webshop-ch", "o1")
    }


def test_customer_service_still_hears_of_a_failed_cancel_on_such_a_channel():
    outbox = Outbox()
    o = order()
    notifier(outbox, channel(customer_mail=False, language="de")).cancel_failed(
        o, o.shipments[0], "shipped anyway"
    )
    (mail,) = outbox.sent
    assert mail.to == ("cs@shop.example",) and mail.subject.startswith("Cancel not done")
