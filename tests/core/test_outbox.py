"""Mail goes through the outbox: `flask outbox send` delivers it over SMTP, once."""

import socket

import pytest
from aiosmtpd.controller import Controller

from portal.core.models import OutboxMessage
from portal.core.services import send_mail
from tests.conftest import outbox, page_text


class Inbox:
    """An SMTP server's handler keeping what it receives."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    yield inbox
    controller.stop()


def test_outbox_send_delivers_over_smtp_once(app, db, smtp):
    """Queued mail reaches the SMTP server and is marked sent; a second run sends nothing."""
    send_mail("giulia@example.org", "Benvenuta nella Rete", "Ciao Giulia, è tutto pronto.")
    send_mail("marco@example.org", "Residenza verificata", "Ora potete votare.")
    db.session.commit()

    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0" in result.output
    assert [to for to, _body in smtp.received] == [["giulia@example.org"], ["marco@example.org"]]
    first = smtp.received[0][1]
    assert "Subject: Benvenuta nella Rete" in first and "Rete dei Comuni" in first
    db.session.expire_all()
    assert all(m.sent_at is not None and m.attempts == 1 for m in outbox())

    result = runner.invoke(args=["outbox", "send"])
    assert "sent 0, failed 0" in result.output
    assert len(smtp.received) == 2


def test_a_failing_message_is_retried_later_without_blocking_the_others(app, db, smtp,
                                                                        monkeypatch):
    """A message the server refused stays queued, counted, and goes out with the next run."""
    send_mail("giulia@example.org", "Primo", "uno")
    db.session.commit()
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens there
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert "sent 0, failed 1" in result.output
    db.session.expire_all()
    [message] = outbox()
    assert message.sent_at is None and message.attempts == 1 and message.last_error

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)
    send_mail("marco@example.org", "Secondo", "due")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert "sent 2, failed 0" in result.output


def test_outbox_send_needs_an_smtp_server(app, db):
    """Without MAIL_SERVER the command stops with a clear error instead of losing mail."""
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code != 0
    assert "MAIL_SERVER" in str(result.exception)


def test_dev_mail_page_lists_messages_in_debug_and_is_404_otherwise(client, db, fresh_app):
    """In development the page shows what the portal would have sent; in production it is 404."""
    send_mail("giulia@example.org", "Conferma il tuo indirizzo", "Apri il link.")
    db.session.commit()
    page = client.get("/dev/posta")
    assert page.status_code == 200
    text = page_text(page)
    assert "Conferma il tuo indirizzo" in text and "giulia@example.org" in text

    production = fresh_app(TESTING=False)
    assert production.test_client().get("/dev/posta").status_code == 404


def test_registration_mail_waits_in_the_outbox(client, db):
    """Requests only queue mail; nothing is sent while the visitor waits."""
    client.form("/registrati", {"name": "Giulia Riva", "email": "giulia@example.org",
                                "password": "una-password-lunga-1", "password_confirm":
                                "una-password-lunga-1", "privacy": "y"})
    [message] = db.session.scalars(db.select(OutboxMessage)).all()
    assert message.sent_at is None and message.to == "giulia@example.org"


def test_a_notification_keeps_the_line_breaks_of_its_message(client, db, factory):
    """A convocation lists the agenda one item a line, in the portal as in the mail."""
    import re

    from portal.core.services import notify
    from tests.conftest import login

    user = factory.user()
    with client.application.test_request_context():
        notify([user], "meeting.convened", "Convocazione", "/tavoli",
               "Luogo: Sala consiliare\nOrdine del giorno:\n1. Comunicazioni\n2. Pedibus",
               mail=False)
    db.session.commit()
    login(client, user.email)
    html = client.get("/account/notifiche").get_data(as_text=True)
    body = re.search(r'<p class="[^"]*\bpre-line\b[^"]*">([^<]*)</p>', html)
    assert body is not None
    assert body.group(1).splitlines() == ["Luogo: Sala consiliare", "Ordine del giorno:",
                                          "1. Comunicazioni", "2. Pedibus"]
    css = client.get("/static/css/portal.css").get_data(as_text=True)
    assert ".pre-line { white-space: pre-line; }" in css
