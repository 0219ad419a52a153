"""The development mail catcher: an SMTP server that shows every message and keeps it.

``python -m app.mail_catcher`` (``bin/run`` starts it) listens on
``SMTP_HOST:SMTP_PORT`` (127.0.0.1:8025), where the app sends its mail, prints
each message's From, To, Subject and text part, and saves it whole as an
``.eml`` file in ``$LJ_DATA_DIR/mail/``. Nothing is ever delivered.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import sys
import threading
from email.message import EmailMessage
from itertools import count
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.controller import Controller

from app import clock
from app.config import PROJECT_ROOT


class MailCatcher:
    """aiosmtpd handler: save each message to ``mail_dir`` and print it to ``out``."""

    def __init__(self, mail_dir: Path, out: TextIO = sys.stdout) -> None:
        self.mail_dir = mail_dir
        self.out = out
        self._numbers = count(1)
        mail_dir.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.content
        path = self.save(content)
        message = email.message_from_bytes(content, policy=email.policy.default)
        self.show(message, envelope.rcpt_tos, path)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def save(self, content: bytes) -> Path:
        """Write the message, complete, as ``<time>-<n>.eml``; returns its path."""
        name = f"{clock.now():%Y%m%d-%H%M%S-%f}-{next(self._numbers)}.eml"
        path = self.mail_dir / name
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.rename(path)  # whoever watches the folder never reads half a message
        return path

    def show(self, message: EmailMessage, recipients: list[str], path: Path) -> None:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content().rstrip() if body is not None else "(no text part)"
        rule = "-" * 72
        print(
            f"{rule}\n"
            f"From:    {message['From']}\n"
            f"To:      {message['To'] or ', '.join(recipients)}\n"
            f"Subject: {message['Subject']}\n"
            f"Saved:   {path}\n\n"
            f"{text}\n{rule}",
            file=self.out,
            flush=True,
        )


def serve(host: str, port: int, mail_dir: Path) -> None:
    """Catch mail on ``host:port`` until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    controller = Controller(MailCatcher(mail_dir), hostname=host, port=port)
    controller.start()
    print(f"Mail catcher on {host}:{port}: messages are printed here and saved in {mail_dir}/")
    try:
        stop.wait()
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> None:
    data_dir = Path(os.environ.get("LJ_DATA_DIR", PROJECT_ROOT / "var"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("SMTP_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT") or 8025))
    parser.add_argument("--dir", type=Path, default=data_dir / "mail", help="where .eml files go")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.dir)


if __name__ == "__main__":
    main()
