"""Rulesets: check an edited file, list the rules, evaluate a plain table."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.base import i18n
from geo.base.errors import ZonesError
from geo.cli.common import Context, _fail, _ruleset_or_fail
from geo.domain import rulesets
from geo.evaluate.table import evaluate_table
from geo.ingest.tables import read_table
from geo.serve import rulesinfo
from rules import examples
from rules import ruleset as rs_mod


def add(cli: click.Group, ctx: Context) -> None:
    rules_cli = click.Group("rules", help="Bộ quy tắc: kiểm tra, liệt kê, đánh giá bảng / rulesets.")
    cli.add_command(rules_cli)

    @rules_cli.command("check")
    @click.argument("path", type=click.Path(path_type=Path))
    def rules_check(path):
        """Kiểm tra một tệp bộ quy tắc (tên, cấp, chu trình, ví dụ) / check a ruleset file."""
        s = ctx.settings()
        try:
            rs = rulesets.load(path)
        except rs_mod.RulesetError as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        click.echo(i18n.t("ruleset_ok", s.lang, path=path, id=rs.id, n_rules=sum(len(x.rules) for _, x in rs.sections()),
                          n_examples=examples.check(rs)))

    @rules_cli.command("list")
    def rules_list():
        """Liệt kê mọi tiêu chí và căn cứ pháp lý / list every rule with its legal reference."""
        for line in rulesinfo.list_lines(ctx.cfg["RULESETS"], i18n.lang(ctx.settings().lang)):
            click.echo(line)

    @rules_cli.command("evaluate")
    @click.option("--ruleset", "ruleset_id", required=True)
    @click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
    @click.option("--output", "output_path", required=True, help="CSV file, or - for standard output.")
    def rules_evaluate(ruleset_id, input_path, output_path):
        """Đánh giá một bảng chỉ số (không hình học) / evaluate a ruleset on a plain table."""
        s = ctx.settings()
        try:
            rs = ctx.cfg["RULESETS"].get(ruleset_id) or _ruleset_or_fail(ctx.cfg, ruleset_id)
            table, skipped = evaluate_table(rs, read_table(input_path), input_path)
        except ZonesError as exc:
            _fail(exc, s.lang)
        text = table.to_csv(index=False)
        if output_path == "-":
            click.echo(text, nl=False)
            return
        Path(output_path).write_text(text, encoding="utf-8")
        counts = table["level"].value_counts()
        summary = ", ".join(f"{lv}={int(counts.get(lv, 0))}" for lv in rs.level_ids + ["unknown"])
        if skipped:
            click.echo(i18n.t("skipped_adjacency", s.lang, ids=", ".join(skipped)))
        click.echo(i18n.t("evaluated", s.lang, n=len(table), id=rs.id, summary=summary, path=output_path))
