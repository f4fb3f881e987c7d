"""The command line as a test runs it: in process, with the test's clock (never today's date)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer
from click.testing import Result
from typer.testing import CliRunner

from healthcode.entrypoints.cli import app as healthcode_app
from healthcode.entrypoints.cli.common import CliContext
from healthcode.services.ports import Clock


@dataclass
class Cli:
    clock: Clock
    app: typer.Typer = healthcode_app

    def invoke(self, args: Sequence[str], **options: Any) -> Result:
        return CliRunner().invoke(self.app, list(args), obj=CliContext(clock=self.clock), **options)

    def run(self, *args: str) -> tuple[int, str]:
        """(exit code, what it printed). Successful commands print their answer on stdout;
        stderr may carry warnings (a driver's resource warning at garbage collection, say) that
        must not break the JSON, so on success only stdout is returned."""
        result = self.invoke(args)
        return result.exit_code, result.stdout if result.exit_code == 0 else result.output
