"""The committee's decision from the command line: approve a run's proposal for a province (the console's review,
for scripts and for a secretariat without a browser), and write a decision's document (DOCX or PDF)."""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from geo.base import config, i18n
from geo.base.errors import NotFoundError, ZonesError
from geo.base.params import parse_day as _parse_day
from geo.cli.common import Context, _fail
from geo.domain import audit, proposals
from geo.ingest import decisions
from geo.serve import decision as document


def add(cli: click.Group, ctx: Context) -> None:
    @cli.group("decision")
    def decision_cli():
        """Quyết định công bố cấp độ dịch / the committee's decision on a run's proposal."""

    @decision_cli.command("approve")
    @click.option("--date", "day", required=True, help="The published run's day (YYYY-MM-DD or dd/mm/yyyy).")
    @click.option("--province", default=None, help="The province's code (needed when the run has several).")
    @click.option("--number", required=True, help="Số/ký hiệu, e.g. 123/QĐ-UBND.")
    @click.option("--signed", required=True, help="dd/mm/yyyy HH:MM (Vietnam time).")
    @click.option("--signer", required=True)
    @click.option("--title", "signer_title", default="", help="e.g. KT. CHỦ TỊCH / PHÓ CHỦ TỊCH (default: CHỦ TỊCH).")
    @click.option("--recipient", "recipients", multiple=True)
    @click.option("--set", "changes", multiple=True, help="CODE=LEVEL:reason — a level other than the computed one.")
    def approve_cmd(day, province, number, signed, signer, signer_title, recipients, changes):
        """Phê duyệt đề xuất thành quyết định / approve a run's proposal as the decision."""
        s = ctx.settings()
        store = ctx.store()
        try:
            run = store.run_for_date(_parse_day(day).isoformat())
            if run is None:
                raise NotFoundError("no_run_for_date", date=day, iso=day)
            if province is None:
                codes = [c for c, _ in proposals.provinces(s.runs_dir, run)]
                if len(codes) != 1:
                    raise click.UsageError("give --province: " + ", ".join(codes))
                province = codes[0]
            wanted = {}
            for item in changes:
                code, _, rest = item.partition("=")
                level, _, reason = rest.partition(":")
                wanted[code.strip()] = (level.strip(), reason.strip())
            ruleset = ctx.cfg["RULESETS"].get(run["manifest"]["ruleset"]) or ctx.cfg["RULESETS"]["qd2686"]
            d = decisions.approve(store, s.runs_dir, run, ruleset, province,
                                  decisions.Decision(number, signed, signer, signer_title, list(recipients), wanted),
                                  audit.cli_user(), config.today())
        except ZonesError as exc:
            audit.record(store, audit.cli_user(), None, "cli", "decision-approve", f"failed: {exc.key}", target=number)
            _fail(exc, s.lang)
        audit.record(store, audit.cli_user(), None, "cli", "decision-approve", "ok", target=d["number"],
                     detail={"id": d["id"], "units": d["n_units"], "run": d["run_id"]})
        click.echo(i18n.t("decision_approved", s.lang, number=d["number"], n=d["n_units"],
                          effective=i18n.vn_time(d["effective_at"])))
        click.echo(d["id"])

    @decision_cli.command("document")
    @click.argument("decision_id")
    @click.option("--format", "fmt", type=click.Choice(tuple(document.FORMATS)), default="docx")
    @click.option("--out", required=True)
    def document_cmd(decision_id, fmt, out):
        """Văn bản quyết định kèm phụ lục / the decision's document (DOCX or PDF)."""
        s = ctx.settings()
        try:
            path = document.render(ctx.store(), s.cache_dir, decision_id, fmt, ctx.cfg["RULESETS"], s.decision_template)
        except ZonesError as exc:
            _fail(exc, s.lang)
        shutil.copyfile(path, Path(out))
        click.echo(str(out))
