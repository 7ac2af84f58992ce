"""What every command shares: the app's settings and store, failing with one clear message,
printing an import's summary, machine faults turned into messages."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from geo.base import collector, config, faults, i18n
from geo.base.errors import InputError, ZonesError
from geo.domain import audit
from geo.domain.rulesets import parse_overrides
from geo.store.database import Store
from rules.expr import did_you_mean

ROOT = Path(__file__).resolve().parents[2]

def _ruleset_or_fail(cfg, ruleset_id):
    raise InputError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, cfg["RULESETS"]))


def _parse_overrides(items) -> dict:
    return parse_overrides(items)


def _fail(exc: ZonesError, lang: str):
    click.echo(exc.text(lang), err=True)
    sys.exit(2)


def _run_import(do, s, action: str = "import", path: Path | None = None) -> None:
    """Run one import (`do(settings)` returns its summary), print the summary, or fail cleanly;
    either way one row in the audit log (who: the operating-system user)."""
    store = Store(s.db_path)
    try:
        summary = do(s)
    except ZonesError as exc:
        audit.record(store, audit.cli_user(), None, "cli", action, f"failed: {exc.key}", path=path, detail=exc.text("en"))
        _fail(exc, s.lang)
    audit.record(store, audit.cli_user(), None, "cli", action, "ok", path=path,
                detail={k: v for k, v in summary.items() if k != "rejects_path"})
    _print_import(summary, s.lang)


def _print_import(summary: dict, lang: str) -> None:
    where = i18n.t("rejects_at", lang, path=summary["rejects_path"]) if summary["rejects_path"] else ""
    click.echo(i18n.t("import_summary", lang, accepted=summary["accepted"], rejected=summary["rejected"], where=where))
    if summary.get("unchanged"):
        click.echo(i18n.t("unchanged", lang, n=summary["unchanged"]))
    waiting = summary.get("waiting") or {}
    if waiting.get("rows"):
        click.echo(i18n.t("import_waiting", lang, **waiting))
    for line in summary.get("notes", []) + summary.get("reasons", []):
        click.echo("  " + line)


def _guarded(callback, cfg):
    """A command whose machine faults (full or read-only disk, damaged store) end in one clear
    message and exit code 2 rather than a traceback."""

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            with collector.set_aside():     # the app and its libraries live as long as the command
                result = callback(*args, **kwargs)
            collector.end_command_process()
            return result
        except (ZonesError, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            fault = faults.classify(exc, where=str(cfg["ZONES"].data_dir))
            if fault is None:
                raise
            _fail(fault, cfg["ZONES"].lang)
    return run


def _guard_all(command, cfg) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guard_all(sub, cfg)
    elif command.callback is not None and command.name not in ("run", "shell", "routes"):
        command.callback = _guarded(command.callback, cfg)


class Context:
    """The app's configuration mapping, as the commands read it."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def settings(self) -> config.Settings:
        return self.cfg["ZONES"]

    def store(self) -> Store:
        return Store(self.settings().db_path)
