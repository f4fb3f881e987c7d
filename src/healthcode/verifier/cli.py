"""`healthcode-verifier`: verify codes and audit the log offline, with only published material.

    healthcode-verifier verify CODE|IMAGE --trust FILE:FINGERPRINT [--trust ...] [--now EPOCH]
    healthcode-verifier audit verify --log log.jsonl --checkpoints checkpoints.json --vkey VKEY

Exit status: 0 admit / log verified, 1 refuse, 3 invalid code or log failed, 2 bad input.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthcode.verifier.audit import verify_log_copy
from healthcode.verifier.checkpoint import CheckpointError, parse_vkey
from healthcode.verifier.qr_image import QrImageError, decode_qr_image
from healthcode.verifier.trustlist import TrustListError, TrustStore, parse_trust_list
from healthcode.verifier.verify import Decision, Verdict, VerifyPolicy, verify_health_code

EXIT_REFUSE = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
app = typer.Typer(
    help="Offline verifier of healthcode codes and transparency logs.", no_args_is_help=True
)
audit_app = typer.Typer(help="Check a copy of the transparency log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_USAGE)


def read_code(code: str) -> str:
    """A code given as text, or a path to a PNG/JPEG of its QR, or a path to a text file."""
    path = Path(code)
    if len(code) < 512 and not code.startswith(("HCODE1:", "PLACE1:")) and path.is_file():
        data = path.read_bytes()
        text = data.decode("ascii", errors="replace").strip()
        if path.suffix.lower() in IMAGE_SUFFIXES or not text.isprintable():
            # Anything that is not plain text must be an image; the decoder names a wrong type.
            try:
                return decode_qr_image(data)[0]
            except QrImageError as exc:
                raise fail(f"{path.name}: {exc.message}") from None
        return text
    return code


def load_trust(specs: list[str]) -> TrustStore:
    store = TrustStore()
    for spec in specs:
        file, sep, pin = spec.rpartition(":")
        if not sep or not file or len(pin) != 64:
            raise fail(f"--trust takes FILE:FINGERPRINT (64 hex digits), got {spec!r}")
        try:
            store.add(parse_trust_list(Path(file).read_text(encoding="utf-8"), pin))
        except OSError as exc:
            raise fail(f"cannot read {file}: {exc.strerror}") from None
        except TrustListError as exc:
            raise fail(f"{file}: {exc}") from None
        except UnicodeDecodeError:
            raise fail(f"{file}: a trust list is UTF-8 JSON text") from None
    return store


def show_verdict(verdict: Verdict, as_json: bool) -> None:
    view = verdict.for_guard()
    if as_json:
        console.print_json(json.dumps(view, ensure_ascii=False))
    else:
        colour = {"admit": "green", "refuse": "red", "invalid": "yellow"}[verdict.decision.value]
        console.print(f"[bold {colour}]{str(view['decision']).upper()}[/] — {view['message']}")
        if verdict.masked_name:
            console.print(f"name: {verdict.masked_name}")
        if verdict.valid_until:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(verdict.valid_until))
            console.print(f"valid until: {when}")


def exit_for(verdict: Verdict) -> None:
    if verdict.decision is Decision.REFUSE:
        raise typer.Exit(EXIT_REFUSE)
    if verdict.decision is Decision.INVALID:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="Code text, or a PNG/JPEG/text file")],
    trust: Annotated[list[str], typer.Option(help="A trust list FILE:FINGERPRINT (repeatable)")],
    now: Annotated[int | None, typer.Option(help="Verify as of this epoch second")] = None,
    skew: Annotated[int, typer.Option(help="Tolerated clock difference, seconds")] = 300,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Admit, refuse or invalid — offline, from trust lists alone."""
    store = load_trust(trust)
    verdict = verify_health_code(
        read_code(code), store, now or int(time.time()), VerifyPolicy(max_skew_seconds=skew)
    )
    show_verdict(verdict, as_json)
    exit_for(verdict)


@audit_app.command("verify")
def audit_verify(
    log: Annotated[Path, typer.Option(help="Log copy: JSON Lines export")],
    checkpoints: Annotated[Path, typer.Option(help="JSON with a 'checkpoints' list of notes")],
    vkey: Annotated[str, typer.Option(help="The log's verifier key, obtained independently")],
) -> None:
    """Check a log copy against signed checkpoints; name the first bad entry."""
    try:
        parse_vkey(vkey)
    except CheckpointError as exc:
        raise fail(f"--vkey: {exc}") from None
    try:
        notes = json.loads(checkpoints.read_text(encoding="utf-8"))["checkpoints"]
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ValueError
    except OSError as exc:
        raise fail(f"cannot read {checkpoints}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, RecursionError):
        raise fail(f"{checkpoints}: expected JSON with a 'checkpoints' list of notes") from None
    try:
        with log.open(encoding="utf-8") as lines:
            report = verify_log_copy(lines, notes, vkey)
    except OSError as exc:
        raise fail(f"cannot read {log}: {exc.strerror}") from None
    if report.ok:
        console.print(
            f"[green]log verified[/green]: {report.entries_checked} entries, "
            f"{report.checkpoints_checked} checkpoints"
        )
        return
    console.print(f"[red]log FAILED[/red]: {report.problem}")
    if report.first_bad_seq is not None:
        console.print(f"first bad entry: seq {report.first_bad_seq}")
    raise typer.Exit(EXIT_INVALID)


def main() -> None:
    app()
