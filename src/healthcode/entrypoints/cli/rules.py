"""`healthcode rules ...` (publish colour rules; activate the first) and `healthcode status ...` (a
person's colour and why, what-if, notices, recorded health facts, the expiry sweep)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from healthcode.domain.audit import Actor
from healthcode.domain.errors import Conflict, InvalidInput
from healthcode.domain.facts import hypothetical
from healthcode.domain.rulesets import Rule
from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import health_facts, notices, rules, staff, status
from healthcode.services.labs import parse_time

CLI_ADMIN = Actor("authority_admin", "cli")
CLI_RESIDENT = Actor("resident", "cli")

rules_app = command_group(
    help="Colour rules: published, versioned, activated.", no_args_is_help=True
)
status_app = command_group(help="A person's colour, why, and what would change it.",
                         no_args_is_help=True)  # fmt: skip


def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch)) if epoch else "—"


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file} as UTF-8 text: {exc}") from None


def _rules_table(info: rules.RuleSetInfo) -> Table:
    table = Table("rule", "colour", "fact", "days", Column("description", overflow="fold"))
    for r in info.ruleset.rules:
        table.add_row(r.rule_id, r.colour, r.fact.value, str(r.lasts_days),
                      f"{r.description.zh}\n{r.description.en}")  # fmt: skip
    return table


@rules_app.command("list")
@handles_errors
def list_rulesets() -> None:
    """Every published rule set and version; the active one is marked."""
    table = Table("rule set", "active", "loaded (UTC)", "activated (UTC)",
                  Column("title", overflow="fold"))  # fmt: skip
    for info in rules.list_rulesets(open_app().ctx):
        rs = info.ruleset
        table.add_row(f"{rs.set_id}@{rs.version}", "✔" if info.active else "",
                      _when(info.stored.loaded_at), _when(info.stored.activated_at),
                      f"{rs.title.zh}\n{rs.title.en}")  # fmt: skip
    console.print(table)


@rules_app.command("show")
@handles_errors
def show(
    set_id: Annotated[str, typer.Argument(help="Rule-set id, or 'active'")] = "active",
    version: Annotated[int | None, typer.Argument(help="Version (default: the active one)")] = None,
) -> None:
    """A rule set's rules in plain words (Chinese and English)."""
    info = rules.get_ruleset(open_app().ctx, set_id, version)
    rs = info.ruleset
    console.print(f"[bold]{rs.title.zh}[/bold] / {rs.title.en}  ({rs.set_id}@{rs.version}"
                  f"{', active' if info.active else ''})")  # fmt: skip
    console.print(rs.description.zh)
    console.print(rs.description.en)
    console.print(f"gates refuse: {', '.join(sorted(rs.refuse_at_gate))}")
    console.print(_rules_table(info))


@rules_app.command("check")
@handles_errors
def check(file: Annotated[Path, typer.Argument(help="A rule-set JSON file")]) -> None:
    """Check and dry-run a rule set without publishing it."""
    ruleset, _, digest = rules.check_document(open_app().ctx, _read(file))
    console.print(f"{ruleset.set_id}@{ruleset.version}: {len(ruleset.rules)} rules, valid")
    console.print(f"sha256 {digest}")


@rules_app.command("load")
@handles_errors
def load(file: Annotated[Path, typer.Argument(help="A rule-set JSON file")]) -> None:
    """Publish a rule set (checked, dry-run, logged). It is not active until activated."""
    info = rules.load_ruleset(open_app().ctx, _read(file), CLI_ADMIN)
    console.print(f"published {info.ruleset.set_id}@{info.ruleset.version} "
                  f"(sha256 {info.stored.digest})")  # fmt: skip


@rules_app.command("activate")
@handles_errors
def activate(
    set_id: Annotated[str, typer.Argument(help="Rule-set id")],
    version: Annotated[int, typer.Argument(help="Version")],
) -> None:
    """Bootstrap only: make a published version the city's FIRST active rule set.

    Once one is active, a change takes two people: /office/rules or the API (see README).
    \f
    The CLI acts as the server's operator (as `staff add` does for the first authority admin),
    not as a signed-in person, so it cannot be one of the two people an activation takes. It
    activates only while no rule set is active yet (before `initialise` has activated the
    shipped default, or if it never ran); on the log as the operator. Once rules are active it
    refuses (exit 2): a change is requested by a health officer or an authority admin and
    approved by a different authority admin, on the office pages (/office/rules) or through
    the API (POST /rulesets/{id}/{version}/activation-requests, then POST
    /rulesets/activation-requests/{seq}/approve)."""
    try:
        done = rules.activate_first(open_app().ctx, set_id, version, staff.OPERATOR)
    except Conflict as exc:
        if exc.code != "two_person_rule":
            raise
        raise fail(
            f"{exc.message}. From the CLI only the first activation is possible; ask for this "
            f"one on /office/rules or with POST /rulesets/{set_id}/{version}/activation-requests, "
            "and have a different authority admin approve it "
            "(POST /rulesets/activation-requests/SEQ/approve)"
        ) from None
    console.print(f"active: {set_id}@{version}; {len(done.changes)} colour(s) changed")


def _rule_words(rule: Rule | None) -> list[str]:
    if rule is None:
        return ["no rule applies (绿码: 无任何规则适用)"]
    return [rule.description.zh, rule.description.en, rule.advice.zh, rule.advice.en]


def _print_status(view: status.StatusView) -> None:
    s = view.status
    colours = {"green": "green", "yellow": "yellow", "red": "red"}
    console.print(f"[bold {colours[s.colour]}]{s.colour.upper()}[/]  {s.rule_ref}"
                  f"  until {_when(s.until)} UTC")  # fmt: skip
    for line in _rule_words(view.rule):
        console.print(f"  {line}")
    if view.evidence:
        table = Table("evidence", "kind", "time (UTC)", Column("what", overflow="fold"))
        for e in view.evidence:
            what = ", ".join(f"{k}={v}" for k, v in sorted(e.summary.items()))
            table.add_row(e.fact_id, e.kind, _when(e.time), what)
        console.print(table)
    for problem in s.problems:
        console.print(f"[yellow]rule {problem} could not be evaluated[/yellow]")


@status_app.command("show")
@handles_errors
def show_status(subject_id: Annotated[str, typer.Argument(help="The resident")]) -> None:
    """The colour now, the rule in words, the evidence, and when it runs out."""
    _print_status(status.status_of(open_app().ctx, subject_id))


def _fact(index: int, text: str) -> Any:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "not JSON: %(exc)s", field=f"facts[{index}]", params={"exc": exc}
        ) from None
    if not isinstance(raw, dict) or "kind" not in raw or "time" not in raw:
        raise InvalidInput('a fact is {"kind": ..., "time": ..., ...}', field=f"facts[{index}]")
    when = raw.pop("time")
    epoch = when if isinstance(when, int) else parse_time(str(when))
    return hypothetical(index, str(raw.pop("kind")), epoch, raw)


@status_app.command("what-if")
@handles_errors
def what_if(
    subject_id: Annotated[str, typer.Argument(help="The resident")],
    facts: Annotated[
        list[str],
        typer.Argument(
            help='Hypothetical facts as JSON, e.g. \'{"kind":"test","time":"2026-11-25T09:00:00Z",'
            '"result":"negative"}\''
        ),
    ],
    at: Annotated[str | None, typer.Option(help="When to evaluate (ISO 8601; default now)")] = None,
) -> None:
    """What the colour would be with these facts added. Nothing is stored."""
    extra = [_fact(i, text) for i, text in enumerate(facts)]
    _print_status(status.what_if(open_app().ctx, subject_id, extra,
                                 parse_time(at) if at else None))  # fmt: skip


@status_app.command("notices")
@handles_errors
def list_notices(subject_id: Annotated[str, typer.Argument(help="The resident")]) -> None:
    """Exposure notices: where, which day, the rule and what to do."""
    table = Table("day (UTC)", "venue", "colour", Column("what to do", overflow="fold"))
    for n in notices.my_notices(open_app().ctx, subject_id):
        advice = f"{n.rule.advice.zh}\n{n.rule.advice.en}" if n.rule else "—"
        table.add_row(time.strftime("%Y-%m-%d", time.gmtime(n.notice.day)),
                      n.venue_name or n.notice.venue_id, n.colour, advice)  # fmt: skip
    console.print(table)


@status_app.command("symptoms")
@handles_errors
def symptoms(
    subject_id: Annotated[str, typer.Argument(help="The resident")],
    names: Annotated[list[str], typer.Argument(help="fever, cough, sore_throat, ...")],
    onset: Annotated[str, typer.Option(help="When they began (ISO 8601)")],
) -> None:
    """Report symptoms (by the resident or their guardian)."""
    done = health_facts.report_symptoms(open_app().ctx, subject_id, names, parse_time(onset),
                                        CLI_RESIDENT)  # fmt: skip
    print_json({"fact_id": done.fact.fact_id, "colour_changes": len(done.changes)})


@status_app.command("quarantine")
@handles_errors
def quarantine(
    subject_id: Annotated[str, typer.Argument(help="The resident")],
    completed: Annotated[str, typer.Option(help="When it was completed (ISO 8601)")],
    days: Annotated[int, typer.Option(help="How long it lasted")] = 7,
) -> None:
    """Record a completed quarantine (health officer)."""
    done = health_facts.record_quarantine(open_app().ctx, subject_id, parse_time(completed),
                                          days, CLI_ADMIN)  # fmt: skip
    print_json({"fact_id": done.fact.fact_id, "colour_changes": len(done.changes)})


@status_app.command("sweep")
@handles_errors
def sweep() -> None:
    """Re-derive colours that have run out (the server does this every minute)."""
    changes = status.sweep(open_app().ctx)
    console.print(f"{len(changes)} colour(s) changed")
