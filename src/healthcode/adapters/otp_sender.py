"""Delivering one-time sign-in codes to residents' phones, behind the `CodeSender` port.

- `ConsoleSender`: for development. It prints the number and code to the server's terminal, not
  to the application log (the log never carries personal data or secrets, PRIV-3); outside the
  dev profile the server warns at start that residents will not receive their codes.
- `SmtpSender`: the first real sender. Many SMS gateways accept mail to an address made from the
  number (`{phone}@gateway`); the address template, server and credentials are settings.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from typing import TextIO

MESSAGE_ZH = "健康码登录验证码：{code}，{minutes} 分钟内有效。请勿告诉他人。"
MESSAGE_EN = "healthcode sign-in code: {code}, valid for {minutes} minutes. Never share it."


def message(code: str, minutes: int) -> str:
    return "\n".join(m.format(code=code, minutes=minutes) for m in (MESSAGE_ZH, MESSAGE_EN))


class ConsoleSender:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.sent: list[tuple[str, str]] = []  # kept for the demo and the tests

    def send(self, phone: str, code: str, minutes: int) -> None:
        self.sent.append((phone, code))
        print(f"[dev sender] to {phone}: {code}", file=self.out or sys.stdout, flush=True)


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        to_template: str,
        *,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if "{phone}" not in to_template:
            raise ValueError("the address template must contain {phone}")
        self.host, self.port, self.sender = host, port, sender
        self.to_template = to_template
        self.starttls = starttls
        self.username, self.password = username, password
        self.timeout = timeout

    def send(self, phone: str, code: str, minutes: int) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = self.to_template.format(phone=phone)
        mail["Subject"] = "healthcode"
        mail.set_content(message(code, minutes))
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(mail)
