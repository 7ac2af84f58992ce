"""Classifying and publishing: reclassify (and its what-if), backfill, held runs."""
from __future__ import annotations

import sys

import click
from tqdm import tqdm

from geo.base import config, i18n
from geo.base.errors import InputError, ZonesError
from geo.base.params import parse_day as _parse_day
from geo.cli.common import Context, _fail, _parse_overrides
from geo.domain import audit
from geo.publish import quality
from geo.publish.backfill import backfill, days_between
from geo.publish.pipeline import evaluate, reclassify
from geo.serve.whatif import diff


def add(cli: click.Group, ctx: Context) -> None:
    @cli.command("reclassify")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today in Asia/Ho_Chi_Minh).")
    @click.option("--ruleset", default=None, help="Ruleset id (default: the one in force on the date).")
    @click.option("--dry-run", is_flag=True, help="Do not publish: print the difference against the published run.")
    @click.option("--set", "overrides", multiple=True, help="With --dry-run: change a setting, e.g. window_days=7.")
    @click.option("--out", default=None, help="With --dry-run: write the differences as CSV (- for stdout).")
    def reclassify_cmd(day, ruleset, dry_run, overrides, out):
        """Phân loại lại và công bố kết quả cho một ngày / reclassify and publish a day."""
        s = ctx.settings()
        progress = lambda st: click.echo(i18n.stage_label(st, s.lang), err=True)  # noqa: E731
        try:
            d = _parse_day(day) if day else config.today()
            if not dry_run:
                if overrides or out:
                    raise InputError("bad_param", name="--set/--out", value=" ".join(overrides) or out,
                                     allowed="only with --dry-run")
                r = reclassify(s, d, ruleset, progress=progress)
            else:
                ev = evaluate(s, d, ruleset, _parse_overrides(overrides), progress=progress)
                changes = diff(ctx.store(), s.runs_dir, ev)
        except ZonesError as exc:
            _fail(exc, s.lang)
        if dry_run:
            click.echo(i18n.t("whatif", s.lang, date=d.isoformat(), ruleset=ev.ruleset.id, n=len(changes)))
            for row in changes.head(50).itertuples(index=False):
                click.echo(f"  {row.unit} {row.code} {row.name}: {row.published_level} → {row.new_level}  {row.new_explanation}")
            if out == "-":
                click.echo(changes.to_csv(index=False), nl=False)
            elif out:
                changes.to_csv(out, index=False)
            return
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "reclassify", "held" if r.get("held") else "published",
                    target=r["run_id"], detail={"date": r["date"], "held": r.get("held")})
        if r.get("held"):
            click.echo(i18n.t("run_held", s.lang, run_id=r["run_id"], date=r["date"]), err=True)
            for reason in r["held"]:
                click.echo("  - " + quality.reason_text(reason, s.lang), err=True)
            sys.exit(3)
        click.echo(i18n.t("run_published", s.lang, run_id=r["run_id"], date=r["date"], ruleset=r["ruleset"]))
        for unit in r["counts"]:     # the kinds of unit the boundary version has
            summary = ", ".join(f"{k}={v}" for k, v in r["counts"][unit].items())
            click.echo(i18n.t("level_summary", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))

    @cli.command("publish-anyway")
    @click.argument("run_id")
    @click.option("--reason", required=True, help="Vì sao vẫn công bố / why it is published anyway.")
    def publish_anyway_cmd(run_id, reason):
        """Công bố một lần chạy bị giữ lại bởi kiểm tra chất lượng / publish a held run."""
        s = ctx.settings()
        try:
            full = quality.publish_anyway(s, run_id, audit.cli_user(), reason)
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "publish-anyway", "ok", target=run_id,
                    detail={"reason": reason, "date": full["date"]})
        click.echo(i18n.t("run_published", s.lang, run_id=run_id, date=full["date"], ruleset=full["ruleset"]))

    @cli.command("holds")
    def holds_cmd():
        """Các lần chạy bị giữ lại và lý do / held runs and their reasons."""
        for h in quality.holds(ctx.store(), ctx.settings().lang):
            click.echo(f"{h['run_id']}  {h['date']}  {h['status']}" + (f"  ({h['decided_by']}: {h['decision_reason']})"
                                                                       if h["decided_by"] else ""))
            for reason in h["reasons"]:
                click.echo("  - " + reason)

    @cli.command("backfill")
    @click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
    @click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
    @click.option("--ruleset", default=None, help="Ruleset id for every day (default: the one in force on each day).")
    def backfill_cmd(start, end, ruleset):
        """Phân loại lại và công bố từng ngày của một khoảng / reclassify and publish a date range."""

        s = ctx.settings()
        try:
            d1, d2 = _parse_day(start), _parse_day(end)
            bar = tqdm(total=len(days_between(d1, d2)), desc=i18n.t("backfill_bar", s.lang), unit=i18n.t("day_unit", s.lang),
                       file=sys.stderr, disable=None)
            runs = backfill(s, d1, d2, ruleset, progress=lambda st: bar.set_postfix_str(i18n.stage_label(st, s.lang)),
                            day_done=lambda run: (bar.set_postfix_str(run["date"]), bar.update()))
            bar.close()
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "backfill", "published", target=f"{d1}..{d2}",
                    detail={"runs": [r["run_id"] for r in runs]})
        click.echo(i18n.t("backfilled", s.lang, n=len(runs), start=d1.isoformat(), end=d2.isoformat(),
                          rulesets=", ".join(sorted({r["ruleset"] for r in runs}))))
        for unit in runs[-1]["counts"]:
            summary = ", ".join(f"{k}={sum(r['counts'][unit][k] for r in runs)}" for k in runs[-1]["counts"][unit])
            click.echo(i18n.t("level_summary_days", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))
