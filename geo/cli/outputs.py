"""What a published run gives: the morning report and exports."""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from geo.base import config, i18n
from geo.base.errors import InputError, NotFoundError, ZonesError
from geo.base.i18n import vn_date
from geo.base.params import parse_as_of as _parse_as_of
from geo.base.params import parse_day as _parse_day
from geo.base.vocabulary import EXPORT_FORMATS, UNITS
from geo.cli.common import Context, _fail
from geo.serve import export as exports
from geo.serve import offline, report


def add(cli: click.Group, ctx: Context) -> None:
    @cli.command("report")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD of a published run (default: today).")
    @click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "pdf"]), default="html")
    @click.option("--out", required=True, help="Output file.")
    def report_cmd(day, fmt, out):
        """Báo cáo buổi sáng: thay đổi so với lần trước / the morning report."""
        s = ctx.settings()
        try:
            d = _parse_day(day) if day else config.today()
            path = report.render(ctx.store(), s.runs_dir, s.cache_dir, d, fmt, i18n.lang(s.lang), ctx.cfg["RULESETS"])
        except ZonesError as exc:
            _fail(exc, s.lang)
        shutil.copyfile(path, out)
        click.echo(i18n.t("report_written", s.lang, date=d.isoformat(), fmt=fmt, path=out))

    @cli.command("export")
    @click.option("--date", "day", required=True, help="YYYY-MM-DD of a published run.")
    @click.option("--unit", type=click.Choice(UNITS), default="commune")
    @click.option("--format", "fmt", type=click.Choice(tuple(EXPORT_FORMATS)), default="geojson")
    @click.option("--out", required=True, help="Output file, or - for standard output.")
    @click.option("--as-of", "as_of", default=None, help="What had been published at this time (ISO, Vietnam time).")
    @click.option("--since", default=None, help="Only units whose level changed since this run id.")
    def export_cmd(day, unit, fmt, out, as_of, since):
        """Xuất kết quả đã công bố / export a published run."""
        s = ctx.settings()
        try:
            run = ctx.store().run_for_date(_parse_day(day).isoformat(), _parse_as_of(as_of) if as_of else None)
            if run is None:
                raise NotFoundError("no_run_for_date", date=vn_date(day), iso=day)
            if fmt == "html":
                rulesets = ctx.cfg["RULESETS"]
                text = offline.page(ctx.store(), s.data_dir, s.runs_dir, s.cache_dir, run,
                                    rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"], i18n.lang(s.lang),
                                    Path(ctx.cfg["VENDOR_DIR"]))
                if out == "-":
                    raise InputError("export_format", fmt="html (stdout)", unit=unit)
                Path(out).write_text(text, encoding="utf-8")
                n = sum(run["manifest"]["counts"]["commune"].values())
            elif fmt in ("geojsonseq", "xlsx") or since:
                before = ctx.store().published_run(since) if since else None
                if since and before is None:
                    raise NotFoundError("no_run_id", run_id=since)
                path = exports.export_file(ctx.store(), s.runs_dir, run, unit, fmt, s.cache_dir, before,
                                           exports.feature_lines(ctx.store(), s.runs_dir, s.cache_dir, unit))
                if out == "-":
                    if EXPORT_FORMATS[fmt].binary:
                        raise InputError("export_format", fmt=f"{fmt} (stdout)", unit=unit)
                    click.echo(path.read_text(encoding="utf-8"), nl=False)
                else:
                    shutil.copyfile(path, out)
                n = -1
            else:
                n = exports.export(ctx.store(), s.runs_dir / run["run_id"], unit, fmt, out, s.cache_dir)
        except ZonesError as exc:
            _fail(exc, s.lang)
        if out != "-" and n >= 0:
            click.echo(i18n.t("exported", s.lang, n=n, path=out))
        elif out != "-":
            click.echo(i18n.t("exported_file", s.lang, path=out))
