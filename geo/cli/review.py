"""Doubtful placements (geo/ingest/reviews.py): list the announced places waiting for an operator's choice,
and decide one (a commune, or none)."""
from __future__ import annotations

import click

from geo.base import i18n
from geo.base.errors import ZonesError
from geo.cli.common import Context, _fail
from geo.domain import audit
from geo.domain import reviews as waiting_places
from geo.ingest import reviews


def add(cli: click.Group, ctx: Context) -> None:
    @cli.group("review")
    def review_cli():
        """Nơi chưa xác định được xã, chờ người vận hành chọn / announced places waiting for a choice."""

    @review_cli.command("list")
    @click.option("--all", "everything", is_flag=True, help="Cả những nơi đã quyết định / decided ones too.")
    def review_list(everything):
        """Liệt kê / list them, most cases first."""
        s = ctx.settings()
        store = ctx.store()
        rows = waiting_places.waiting(store, None if everything else "open")
        labels = waiting_places.labels(store, rows)
        click.echo(i18n.t("review_count", s.lang, n=len(rows), rows=sum(r["n_rows"] for r in rows),
                          cases=sum(r["n_cases"] for r in rows)))
        for r in rows:
            click.echo(f"{r['review_key']}\t{r['province_name']} / {r['district_name']} / {r['commune_name']}\t"
                       f"{r['n_rows']} / {r['n_cases']}\t{r['status']}" + (f" → {r['code']}" if r["code"] else ""))
            for code in r["candidates"]:
                click.echo(f"    {labels.get(code, code)}")

    @review_cli.command("decide")
    @click.argument("review_key")
    @click.argument("code", required=False)
    @click.option("--none", "none_of_them", is_flag=True, help="Không xã nào: bỏ các dòng / none: drop the rows.")
    def review_decide(review_key, code, none_of_them):
        """Chọn xã cho một nơi / place an announced place's rows in a commune (or --none)."""
        s = ctx.settings()
        if bool(code) == none_of_them:
            raise click.UsageError("give a commune code, or --none")
        try:
            r = reviews.decide(ctx.store(), review_key, None if none_of_them else code, audit.cli_user())
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "review-decide", "ok", target=review_key,
                    detail={"code": r["code"], "rows": r["rows"], "cases": r["cases"]})
        click.echo(i18n.t("review_decided" if r["code"] else "review_dropped", s.lang, place=review_key, code=r["code"] or "",
                          rows=r["rows"], cases=r["cases"]))
