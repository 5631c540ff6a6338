"""Texts the portal writes are stored as a key and values and shown in the reader's language;
what people wrote, and rows stored before keys existed, are shown as they were written."""

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from portal.catalogue import services as catalogue
from portal.catalogue.models import Theme
from portal.core.models import Activity
from portal.core.services import activity
from portal.core.texts import MESSAGES, render, text
from portal.extensions import db as _db
from tests.conftest import page_text


def english(client) -> None:
    client.get("/lingua/en")


def test_an_event_is_shown_in_each_readers_language(app, client, factory, db):
    """Written once (here by an English-speaking request), read in Italian and in English;
    the name inside stays as written."""
    comune = factory.comune("Meda", "108031")
    with app.test_request_context("/"), force_locale("en"):
        event = activity("comune.joined", text("comune.joined", name=comune.name),
                         "/comuni/meda", comune.id)
        _db.session.commit()
    assert (event.title, event.message, event.params) == (
        "Meda entra nella Rete", "comune.joined", {"name": "Meda"})
    assert "Meda entra nella Rete" in page_text(client.get("/"))
    english(client)
    for path in ("/", f"/comuni/{comune.slug}"):
        text_ = page_text(client.get(path))
        assert "Meda joins the Network" in text_, path
        assert "entra nella Rete" not in text_, path


def test_events_stored_before_keys_are_shown_as_written(client, factory, db):
    """Old rows (no key) and a key no longer known show the Italian text they stored."""
    comune = factory.comune("Lentate sul Seveso", "108028")
    db.session.add_all([
        Activity(kind="comune.joined", title="Lentate sul Seveso entra nella Rete",
                 link="/comuni/lentate-sul-seveso", comune_id=comune.id,
                 at=datetime(2015, 11, 12, 17, tzinfo=UTC)),
        Activity(kind="x.retired", title="Un evento di una versione passata",
                 message="x.retired", params={"a": 1}, link="/", comune_id=comune.id,
                 at=datetime(2015, 11, 13, 17, tzinfo=UTC)),
    ])
    db.session.commit()
    english(client)
    text_ = page_text(client.get(f"/comuni/{comune.slug}"))
    assert "Lentate sul Seveso entra nella Rete" in text_
    assert "Un evento di una versione passata" in text_


def test_dates_inside_a_text_follow_the_readers_language(app):
    with app.test_request_context("/"):
        agenda = text("history.on_agenda", when=date(2026, 12, 7))
        assert agenda.params == {"when": "2026-12-07"}
        assert agenda.italian() == "All'ordine del giorno della seduta del 7 dicembre 2026"
        with force_locale("en"):
            assert str(agenda) == "On the agenda of the meeting of 7 December 2026"
        # values that no longer fit the message: the stored text, never an error page
        assert render("history.on_agenda", {}, "come era scritto") == "come era scritto"
        assert render("history.in_progress", {"who": "Ufficio", "when": "-"}, "") == (
            "In realizzazione. Responsabile: Ufficio; scadenza: -.")


def test_every_key_is_a_known_message():
    with pytest.raises(KeyError):
        text("non.esiste")
    assert all(message.msgid for message in MESSAGES.values())


def test_themes_and_provinces_have_their_english_names(app, client, factory, db):
    """The Rete's themes are shown translated (a coordinator's own theme as written), and a
    province reads "Monza and Brianza", not "Monza e della Brianza", on an English page."""
    comune = factory.comune("Seveso", "108040")
    with app.test_request_context("/"):
        catalogue.ensure_default_themes()
        db.session.add(Theme(name="Orti condivisi", slug="orti-condivisi", position=99))
        db.session.commit()
    english(client)
    text_ = page_text(client.get("/proposte"))
    assert "Mutual aid" in text_ and "Mutuo aiuto" not in text_
    assert "Orti condivisi" in text_
    text_ = page_text(client.get(f"/comuni/{comune.slug}"))
    assert "Province of Monza and Brianza" in text_ and "della Brianza" not in text_
    assert "Monza and Brianza" in page_text(client.get("/comuni"))
    client.get("/lingua/it")
    assert "Provincia di Monza e della Brianza" in page_text(client.get(f"/comuni/{comune.slug}"))
