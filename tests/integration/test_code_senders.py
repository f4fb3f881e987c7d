"""One-time codes reach the phone: the SMTP sender against a real SMTP server on 127.0.0.1
(aiosmtpd), and the development sender on the console."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from healthcode.adapters.otp_sender import ConsoleSender, SmtpSender
from tests.support.ports import free_port


class Inbox:
    def __init__(self) -> None:
        self.mail: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.mail.append(envelope)
        return "250 OK"



@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_the_smtp_sender_mails_the_gateway_address(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    sender = SmtpSender(
        "127.0.0.1", port, "codes@city.example", "{phone}@sms.city.example", starttls=False
    )
    sender.send("+8613812345678", "042917", 5)
    (mail,) = handler.mail
    assert mail.rcpt_tos == ["+8613812345678@sms.city.example"]
    body = message_from_bytes(mail.content, policy=policy.default)  # type: ignore[arg-type]
    text = body.get_content()  # type: ignore[attr-defined]
    assert "042917" in text
    assert "5 分钟" in text
    assert "5 minutes" in text


def test_a_gateway_template_needs_the_number() -> None:
    with pytest.raises(ValueError, match="phone"):
        SmtpSender("127.0.0.1", 25, "a@b.example", "gateway@sms.example")


def test_the_console_sender_prints_to_the_terminal() -> None:
    out = io.StringIO()
    ConsoleSender(out).send("+8613812345678", "123456", 5)
    assert "123456" in out.getvalue()
