"""The command-line interface (`flask --app server ...`): click commands over geo/ and rules/, one
module per kind of work. server.py adds them to the app's command group; they read the app's settings
and rulesets from its configuration mapping, so this package never imports flask."""
from __future__ import annotations

import click

from geo.cli import admin, decisions, imports, outputs, review, rulesets, runs
from geo.cli.common import Context, _guard_all


def register(cli: click.Group, cfg) -> None:
    """Add the commands to `cli` (the app's command group); `cfg` is the app's configuration mapping."""
    ctx = Context(cfg)
    for module in (imports, runs, outputs, admin, rulesets, review, decisions):
        module.add(cli, ctx)
    for command in list(cli.commands.values()):
        _guard_all(command, cfg)
