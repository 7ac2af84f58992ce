"""The command-line interface (`flask --app server ...`): click commands over geo/ and rules/.

server.py adds them to the app's command group; they read the app's settings and rulesets from
its configuration mapping, so this module never imports flask.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from . import config, i18n
from .errors import InputError, NotFoundError, ZonesError
from .params import parse_as_of as _parse_as_of
from .params import parse_day as _parse_day
from .store import Store
from .tables import option_bool
from .texts import vn_date
from .vocabulary import EXPORT_FORMATS, UNITS

ROOT = Path(__file__).resolve().parent.parent

def _ruleset_or_fail(cfg, ruleset_id):
    from rules.expr import did_you_mean
    raise InputError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, cfg["RULESETS"]))


def _parse_overrides(items) -> dict:
    import yaml
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError("bad_param", name="--set", value=item, allowed="name=value")
        name, value = item.split("=", 1)
        out[name.strip()] = yaml.safe_load(value)
    return out


def _fail(exc: ZonesError, lang: str):
    click.echo(exc.text(lang), err=True)
    sys.exit(2)


def _run_import(do, s, action: str = "import", path: Path | None = None) -> None:
    """Run one import (`do(settings)` returns its summary), print the summary, or fail cleanly;
    either way one row in the audit log (who: the operating-system user)."""
    from . import auth
    store = Store(s.db_path)
    try:
        summary = do(s)
    except ZonesError as exc:
        auth.record(store, auth.cli_user(), None, "cli", action, f"failed: {exc.key}", path=path, detail=exc.text("en"))
        _fail(exc, s.lang)
    auth.record(store, auth.cli_user(), None, "cli", action, "ok", path=path,
                detail={k: v for k, v in summary.items() if k != "rejects_path"})
    _print_import(summary, s.lang)


def _print_import(summary: dict, lang: str) -> None:
    where = i18n.t("rejects_at", lang, path=summary["rejects_path"]) if summary["rejects_path"] else ""
    click.echo(i18n.t("import_summary", lang, accepted=summary["accepted"], rejected=summary["rejected"], where=where))
    if summary.get("unchanged"):
        click.echo(i18n.t("unchanged", lang, n=summary["unchanged"]))
    for line in summary.get("notes", []) + summary.get("reasons", []):
        click.echo("  " + line)


def _guarded(callback, cfg):
    """A command whose machine faults (full or read-only disk, damaged store) end in one clear
    message and exit code 2 rather than a traceback."""
    import functools

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except (ZonesError, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            from . import faults
            fault = faults.classify(exc, where=str(cfg["ZONES"].data_dir))
            if fault is None:
                raise
            _fail(fault, cfg["ZONES"].lang)
    return run


def register(cli: click.Group, cfg) -> None:
    """Add the commands to `cli` (the app's command group); `cfg` is the app's configuration mapping."""
    _register(cli, cfg)
    for command in list(cli.commands.values()):
        _guard_all(command, cfg)


def _guard_all(command, cfg) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guard_all(sub, cfg)
    elif command.callback is not None and command.name not in ("run", "shell", "routes"):
        command.callback = _guarded(command.callback, cfg)


def _register(cli: click.Group, cfg) -> None:
    def settings() -> config.Settings:
        return cfg["ZONES"]

    def store() -> Store:
        return Store(settings().db_path)

    @cli.command("import-units")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--boundary-version", default=None, help="Name of this boundary version (default: file name).")
    @click.option("--column", "columns", multiple=True, help="Column mapping, e.g. code=MA_XA (repeatable).")
    @click.option("--crs", default=None, help="CRS to assume when the file has none, e.g. EPSG:4326.")
    @click.option("--crosswalk", "crosswalk_path", default=None, type=click.Path(path_type=Path),
                  help="Mã cũ -> mã mới (CSV/XLSX: old_code,new_code[,weight]) / old code -> new code table.")
    def import_units_cmd(path, boundary_version, columns, crs, crosswalk_path):
        """Nhập ranh giới xã (mọi định dạng GDAL đọc được) / import commune boundaries."""
        from geo.units import import_units
        s = settings()
        try:
            mapping = {}
            for item in columns:
                if "=" not in item:
                    raise InputError("bad_column_option", value=item)
                k, v = item.split("=", 1)
                mapping[k.strip()] = v.strip()
            r = import_units(store(), path, boundary_version, mapping, crs, s.reports_dir,
                             progress=lambda st: click.echo(i18n.stage_label(st, s.lang), err=True),
                             crosswalk_path=crosswalk_path)
        except ZonesError as exc:
            _fail(exc, s.lang)
        from . import auth
        auth.record(store(), auth.cli_user(), None, "cli", "import-units", "unchanged" if r.get("unchanged") else "ok",
                    target=r["version"], path=path)
        if r.get("unchanged"):
            click.echo(i18n.t("version_unchanged", s.lang, version=r["version"]))
            return
        click.echo(i18n.t("imported_units", s.lang, n=r["n_communes"], nd=r["n_districts"], np=r["n_provinces"],
                          version=r["version"]))
        for line in r.get("population_unknown", [])[:20]:
            click.echo(i18n.t("population_unknown", s.lang, detail=line))
        if r["repaired"]:
            click.echo(i18n.t("repaired", s.lang, n=len(r["repaired"]), codes=", ".join(map(str, r["repaired"][:20]))))
        click.echo(i18n.t("topology", s.lang, report=r["report_path"], **{k: r[k] for k in
                                                                          ("n_overlaps", "overlap_km2", "n_gaps", "gap_km2")}))

    @cli.command("import-cases")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--community", default=None, help="true/false for rows without a community value.")
    @click.option("--source-known", default=None, help="true/false for rows without a source_known value.")
    def import_cases_cmd(path, community, source_known):
        """Nhập ca bệnh (danh sách ca hoặc số ca theo ngày, CSV/XLSX) / import cases."""
        from geo.cases import import_cases
        _run_import(lambda s: import_cases(store(), path, s.rejects_dir, config.today(),
                                           option_bool("--community", community),
                                           option_bool("--source-known", source_known)), settings(),
                    "import-cases", path)

    @cli.command("import-lockdowns")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--crs", default=None, help="CRS to assume when the file has none.")
    def import_lockdowns_cmd(path, crs):
        """Nhập vùng phong tỏa / import lockdown polygons."""
        from geo.lockdowns import import_lockdowns
        _run_import(lambda s: import_lockdowns(store(), path, s.rejects_dir, config.today(), crs), settings(),
                    "import-lockdowns", path)

    @cli.command("import-flags")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_flags_cmd(path):
        """Nhập cờ của Ban Chỉ đạo (Y2) / import committee flags."""
        from geo.lockdowns import import_flags
        _run_import(lambda s: import_flags(store(), path, s.rejects_dir, config.today()), settings(), "import-flags", path)

    @cli.command("import-indicators")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_indicators_cmd(path):
        """Nhập độ bao phủ vắc xin, năng lực điều trị... theo đơn vị và ngày / import indicators."""
        from geo.indicators import import_indicators
        _run_import(lambda s: import_indicators(store(), path, s.rejects_dir, config.today()), settings(),
                    "import-indicators", path)

    @cli.command("declare")
    @click.option("--unit", "unit_code", default=None, help="Mã đơn vị (xã, huyện hoặc tỉnh) / unit code.")
    @click.option("--level", default=None, help="safe | risk | high_risk | very_high_risk")
    @click.option("--from", "valid_from", default=None, help="YYYY-MM-DD or dd/mm/yyyy")
    @click.option("--until", "valid_until", default="", help="optional end date")
    @click.option("--decision", default=None, help='số quyết định, e.g. "123/QĐ-UBND"')
    @click.option("--by", "by", default=None, help="người ghi / who records it")
    @click.option("--reason", default="")
    @click.option("--file", "path", default=None, type=click.Path(path_type=Path), help="CSV/XLSX batch instead.")
    def declare_cmd(unit_code, level, valid_from, valid_until, decision, by, reason, path):
        """Ghi cấp độ Ban Chỉ đạo đã công bố / record an officially declared level."""
        import pandas as pd

        from geo import declared
        if path is not None:
            _run_import(lambda s: declared.declare_file(store(), path, s.rejects_dir, config.today()), settings(),
                        "declare", path)
            return
        row = {"unit": unit_code or "", "level": level or "", "from": valid_from or "", "until": valid_until,
               "decision": decision or "", "by": by or "", "reason": reason}
        _run_import(lambda s: declared.declare_table(store(), pd.DataFrame([row]), None, s.rejects_dir, config.today()), settings(),
                    "declare")

    @cli.command("reclassify")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today in Asia/Ho_Chi_Minh).")
    @click.option("--ruleset", default=None, help="Ruleset id (default: the one in force on the date).")
    @click.option("--dry-run", is_flag=True, help="Do not publish: print the difference against the published run.")
    @click.option("--set", "overrides", multiple=True, help="With --dry-run: change a setting, e.g. window_days=7.")
    @click.option("--out", default=None, help="With --dry-run: write the differences as CSV (- for stdout).")
    def reclassify_cmd(day, ruleset, dry_run, overrides, out):
        """Phân loại lại và công bố kết quả cho một ngày / reclassify and publish a day."""
        from geo.pipeline import evaluate, reclassify
        s = settings()
        progress = lambda st: click.echo(i18n.stage_label(st, s.lang), err=True)  # noqa: E731
        try:
            d = _parse_day(day) if day else config.today()
            if not dry_run:
                if overrides or out:
                    raise InputError("bad_param", name="--set/--out", value=" ".join(overrides) or out,
                                     allowed="only with --dry-run")
                r = reclassify(s, d, ruleset, progress=progress)
            else:
                from geo.whatif import diff
                ev = evaluate(s, d, ruleset, _parse_overrides(overrides), progress=progress)
                changes = diff(store(), s.runs_dir, ev)
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
        from . import auth
        auth.record(store(), auth.cli_user(), None, "cli", "reclassify", "held" if r.get("held") else "published",
                    target=r["run_id"], detail={"date": r["date"], "held": r.get("held")})
        if r.get("held"):
            click.echo(i18n.t("run_held", s.lang, run_id=r["run_id"], date=r["date"]), err=True)
            for reason in r["held"]:
                click.echo("  - " + reason, err=True)
            sys.exit(3)
        click.echo(i18n.t("run_published", s.lang, run_id=r["run_id"], date=r["date"], ruleset=r["ruleset"]))
        for unit in UNITS:
            summary = ", ".join(f"{k}={v}" for k, v in r["counts"][unit].items())
            click.echo(i18n.t("level_summary", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))

    @cli.command("publish-anyway")
    @click.argument("run_id")
    @click.option("--reason", required=True, help="Vì sao vẫn công bố / why it is published anyway.")
    def publish_anyway_cmd(run_id, reason):
        """Công bố một lần chạy bị giữ lại bởi kiểm tra chất lượng / publish a held run."""
        from . import auth, quality
        s = settings()
        try:
            full = quality.publish_anyway(s, run_id, auth.cli_user(), reason)
        except ZonesError as exc:
            _fail(exc, s.lang)
        auth.record(store(), auth.cli_user(), None, "cli", "publish-anyway", "ok", target=run_id,
                    detail={"reason": reason, "date": full["date"]})
        click.echo(i18n.t("run_published", s.lang, run_id=run_id, date=full["date"], ruleset=full["ruleset"]))

    @cli.command("holds")
    def holds_cmd():
        """Các lần chạy bị giữ lại và lý do / held runs and their reasons."""
        from . import quality
        for h in quality.holds(store()):
            click.echo(f"{h['run_id']}  {h['date']}  {h['status']}" + (f"  ({h['decided_by']}: {h['decision_reason']})"
                                                                       if h["decided_by"] else ""))
            for reason in h["reasons"]:
                click.echo("  - " + reason)

    users_cli = click.Group("users", help="Người dùng và mã truy cập / users and tokens.")
    cli.add_command(users_cli)

    @users_cli.command("add")
    @click.argument("name")
    @click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
    def users_add(name, role):
        """Tạo người dùng (hoặc cấp mã mới) / create a user or re-issue a token."""
        from . import auth
        s = settings()
        try:
            token = auth.add_user(store(), name, role)
        except ZonesError as exc:
            _fail(exc, s.lang)
        auth.record(store(), auth.cli_user(), None, "cli", "users-add", "ok", target=name, detail={"role": role})
        click.echo(i18n.t("user_added", s.lang, name=name, role=role, token=token))

    @users_cli.command("revoke")
    @click.argument("name")
    def users_revoke(name):
        """Thu hồi mã của người dùng / revoke a user's token."""
        from . import auth
        s = settings()
        try:
            auth.revoke(store(), name)
        except ZonesError as exc:
            _fail(exc, s.lang)
        auth.record(store(), auth.cli_user(), None, "cli", "users-revoke", "ok", target=name)
        click.echo(i18n.t("user_revoked", s.lang, name=name))

    @users_cli.command("list")
    def users_list():
        """Liệt kê người dùng / list users."""
        from . import auth
        for u in auth.users(store()):
            click.echo(f"{u['name']}\t{u['role']}\t{u['created_at']}" + (f"\trevoked {u['revoked_at']}" if u["revoked_at"] else ""))

    @cli.command("audit")
    @click.option("--limit", default=50, show_default=True)
    def audit_cmd(limit):
        """Nhật ký ghi dữ liệu / the audit log of every write."""
        from . import auth
        for a in auth.audit_log(store(), limit):
            click.echo(f"{a['at']}  {a['who']} ({a['role'] or a['via']})  {a['action']} {a['target'] or ''}  "
                       f"{a['outcome']}  {a['file_name'] or ''} {(a['file_sha256'] or '')[:12]}")

    @cli.command("backfill")
    @click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
    @click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
    @click.option("--ruleset", default=None, help="Ruleset id for every day (default: the one in force on each day).")
    def backfill_cmd(start, end, ruleset):
        """Phân loại lại và công bố từng ngày của một khoảng / reclassify and publish a date range."""
        from tqdm import tqdm

        from geo.backfill import backfill, days_between
        s = settings()
        try:
            d1, d2 = _parse_day(start), _parse_day(end)
            bar = tqdm(total=len(days_between(d1, d2)), desc=i18n.t("backfill_bar", s.lang), unit=i18n.t("day_unit", s.lang),
                       file=sys.stderr, disable=None)
            runs = backfill(s, d1, d2, ruleset, progress=lambda st: bar.set_postfix_str(i18n.stage_label(st, s.lang)),
                            day_done=lambda run: (bar.set_postfix_str(run["date"]), bar.update()))
            bar.close()
        except ZonesError as exc:
            _fail(exc, s.lang)
        from . import auth
        auth.record(store(), auth.cli_user(), None, "cli", "backfill", "published", target=f"{d1}..{d2}",
                    detail={"runs": [r["run_id"] for r in runs]})
        click.echo(i18n.t("backfilled", s.lang, n=len(runs), start=d1.isoformat(), end=d2.isoformat(),
                          rulesets=", ".join(sorted({r["ruleset"] for r in runs}))))
        for unit in UNITS:
            summary = ", ".join(f"{k}={sum(r['counts'][unit][k] for r in runs)}" for k in runs[-1]["counts"][unit])
            click.echo(i18n.t("level_summary_days", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))

    @cli.command("report")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD of a published run (default: today).")
    @click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "pdf"]), default="html")
    @click.option("--out", required=True, help="Output file.")
    def report_cmd(day, fmt, out):
        """Báo cáo buổi sáng: thay đổi so với lần trước / the morning report."""
        from geo import report
        s = settings()
        try:
            d = _parse_day(day) if day else config.today()
            path = report.render(store(), s.runs_dir, s.cache_dir, d, fmt, i18n.lang(s.lang), cfg["RULESETS"])
        except ZonesError as exc:
            _fail(exc, s.lang)
        shutil.copyfile(path, out)
        click.echo(i18n.t("report_written", s.lang, date=d.isoformat(), fmt=fmt, path=out))

    @cli.command("nginx-conf")
    @click.option("--listen", default="80", help="nginx listen address (port or host:port).")
    @click.option("--upstream", default="127.0.0.1:8000", help="Where gunicorn listens.")
    def nginx_conf_cmd(listen, upstream):
        """In cấu hình nginx đặt trước dịch vụ / print the nginx site for this data folder."""
        text = (ROOT / "deploy" / "nginx-zones.conf").read_text(encoding="utf-8")
        click.echo(text.replace("@LISTEN@", listen).replace("@UPSTREAM@", upstream)
                   .replace("@RUNS@", str(settings().runs_dir))
                   .replace("@SHAPES@", str(settings().data_dir / "shapes")), nl=False)

    rules_cli = click.Group("rules", help="Bộ quy tắc: kiểm tra, liệt kê, đánh giá bảng / rulesets.")
    cli.add_command(rules_cli)

    @rules_cli.command("check")
    @click.argument("path", type=click.Path(path_type=Path))
    def rules_check(path):
        """Kiểm tra một tệp bộ quy tắc (tên, cấp, chu trình, ví dụ) / check a ruleset file."""
        from geo import metrics
        from rules import examples
        from rules import ruleset as rs_mod
        s = settings()
        try:
            rs = rs_mod.load(path, metrics.COMMUNE_INPUTS, metrics.ROLLUP_INPUTS)
        except rs_mod.RulesetError as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        click.echo(i18n.t("ruleset_ok", s.lang, path=path, id=rs.id, n_rules=sum(len(x.rules) for _, x in rs.sections()),
                          n_examples=examples.check(rs)))

    @rules_cli.command("list")
    def rules_list():
        """Liệt kê mọi tiêu chí và căn cứ pháp lý / list every rule with its legal reference."""
        from geo import rulesinfo
        for line in rulesinfo.list_lines(cfg["RULESETS"], i18n.lang(settings().lang)):
            click.echo(line)

    @rules_cli.command("evaluate")
    @click.option("--ruleset", "ruleset_id", required=True)
    @click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
    @click.option("--output", "output_path", required=True, help="CSV file, or - for standard output.")
    def rules_evaluate(ruleset_id, input_path, output_path):
        """Đánh giá một bảng chỉ số (không hình học) / evaluate a ruleset on a plain table."""
        from geo.evaluate import evaluate_table
        s = settings()
        try:
            rs = cfg["RULESETS"].get(ruleset_id) or _ruleset_or_fail(cfg, ruleset_id)
            table, skipped = evaluate_table(rs, input_path)
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

    @cli.command("export")
    @click.option("--date", "day", required=True, help="YYYY-MM-DD of a published run.")
    @click.option("--unit", type=click.Choice(UNITS), default="commune")
    @click.option("--format", "fmt", type=click.Choice(tuple(EXPORT_FORMATS)), default="geojson")
    @click.option("--out", required=True, help="Output file, or - for standard output.")
    @click.option("--as-of", "as_of", default=None, help="What had been published at this time (ISO, Vietnam time).")
    @click.option("--since", default=None, help="Only units whose level changed since this run id.")
    def export_cmd(day, unit, fmt, out, as_of, since):
        """Xuất kết quả đã công bố / export a published run."""
        from geo import export as exports
        s = settings()
        try:
            run = store().run_for_date(_parse_day(day).isoformat(), _parse_as_of(as_of) if as_of else None)
            if run is None:
                raise NotFoundError("no_run_for_date", date=vn_date(day), iso=day)
            if fmt == "html":
                from geo import offline
                rulesets = cfg["RULESETS"]
                text = offline.page(store(), s.runs_dir / run["run_id"], run,
                                    rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"], i18n.lang(s.lang),
                                    Path(cfg["VENDOR_DIR"]))
                if out == "-":
                    raise InputError("export_format", fmt="html (stdout)", unit=unit)
                Path(out).write_text(text, encoding="utf-8")
                n = sum(run["manifest"]["counts"]["commune"].values())
            elif fmt in ("geojsonseq", "xlsx") or since:
                before = store().published_run(since) if since else None
                if since and before is None:
                    raise NotFoundError("no_run_id", run_id=since)
                path = exports.export_file(store(), s.runs_dir, run, unit, fmt, s.cache_dir, before,
                                           exports.feature_lines(store(), s.runs_dir, s.cache_dir, unit))
                if out == "-":
                    if EXPORT_FORMATS[fmt].binary:
                        raise InputError("export_format", fmt=f"{fmt} (stdout)", unit=unit)
                    click.echo(path.read_text(encoding="utf-8"), nl=False)
                else:
                    shutil.copyfile(path, out)
                n = -1
            else:
                n = exports.export(store(), s.runs_dir / run["run_id"], unit, fmt, out, s.cache_dir)
        except ZonesError as exc:
            _fail(exc, s.lang)
        if out != "-" and n >= 0:
            click.echo(i18n.t("exported", s.lang, n=n, path=out))
        elif out != "-":
            click.echo(i18n.t("exported_file", s.lang, path=out))
