"""Importing what offices send: boundaries, cases, lockdowns, flags, indicators, declared levels."""
from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from geo.base import config, i18n
from geo.base.errors import InputError, ZonesError
from geo.base.params import parse_day as _parse_day
from geo.cli.common import Context, _fail, _run_import
from geo.domain import audit
from geo.ingest import declared
from geo.ingest.cases import import_cases
from geo.ingest.indicators import import_indicators
from geo.ingest.lockdowns import import_flags, import_lockdowns
from geo.ingest.tables import option_bool
from geo.ingest.units import import_units


def add(cli: click.Group, ctx: Context) -> None:
    @cli.command("import-units")
    @click.argument("path", type=click.Path(path_type=Path), required=False)
    @click.option("--boundary-version", default=None, help="Name of this boundary version (default: file name).")
    @click.option("--derive-from", default=None,
                  help="Dựng từ một phiên bản đã có và --crosswalk / derive from a stored version and --crosswalk.")
    @click.option("--provinces", "provinces_path", type=click.Path(path_type=Path), default=None,
                  help="Ranh giới tỉnh đã công bố: lấy tên, kiểm tra có bao trọn các xã / published province polygons: "
                       "names taken, nesting checked.")
    @click.option("--population", "population_path", type=click.Path(path_type=Path), default=None,
                  help="Dân số từng xã (code, population, method) / each commune's population and how it was got.")
    @click.option("--column", "columns", multiple=True, help="Column mapping, e.g. code=MA_XA (repeatable).")
    @click.option("--crs", default=None, help="CRS to assume when the file has none, e.g. EPSG:4326.")
    @click.option("--crosswalk", "crosswalk_path", default=None, type=click.Path(path_type=Path),
                  help="Mã cũ -> mã mới (CSV/XLSX: old_code,new_code[,weight]) / old code -> new code table.")
    @click.option("--valid-from", "valid_from", default=None,
                  help="Ngày bắt đầu hiệu lực (ca trước ngày này đọc mã theo phiên bản cũ) / first day in force.")
    @click.option("--partial", is_flag=True,
                  help="Nhập các dòng nhất quán của --crosswalk, liệt kê các dòng còn lại / keep the consistent rows "
                       "of the crosswalk, list the rest.")
    def import_units_cmd(path, boundary_version, derive_from, provinces_path, population_path, columns, crs,
                         crosswalk_path, valid_from, partial):
        """Nhập ranh giới xã (mọi định dạng GDAL đọc được) / import commune boundaries."""
        s = ctx.settings()
        try:
            mapping = {}
            for item in columns:
                if "=" not in item:
                    raise InputError("bad_column_option", value=item)
                k, v = item.split("=", 1)
                mapping[k.strip()] = v.strip()
            if path is None and derive_from is None:
                raise InputError("units_path_missing")
            r = import_units(ctx.store(), path, boundary_version, mapping, crs, s.reports_dir,
                             progress=lambda st: click.echo(i18n.stage_label(st, s.lang), err=True),
                             crosswalk_path=crosswalk_path, derive_from=derive_from, provinces_path=provinces_path,
                             population_path=population_path,
                             valid_from=_parse_day(valid_from).isoformat() if valid_from else None,
                             partial_crosswalk=partial)
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "import-units", "unchanged" if r.get("unchanged") else "ok",
                    target=r["version"], path=path)
        if r.get("unchanged"):
            click.echo(i18n.t("version_unchanged", s.lang, version=r["version"]))
            return
        two_level = "district" not in r.get("levels", ["district"])
        click.echo(i18n.t("imported_units_2" if two_level else "imported_units", s.lang, n=r["n_communes"],
                          nd=r["n_districts"], np=r["n_provinces"], version=r["version"]))
        for line in r.get("population_unknown", [])[:20]:
            click.echo(i18n.t("population_unknown", s.lang, detail=line))
        if r["repaired"]:
            click.echo(i18n.t("repaired", s.lang, n=len(r["repaired"]), codes=", ".join(map(str, r["repaired"][:20]))))
        click.echo(i18n.t("topology", s.lang, report=r["report_path"], **{k: r[k] for k in
                                                                          ("n_overlaps", "overlap_km2", "n_gaps", "gap_km2")}))
        if "derived" in r:
            d = r["derived"]
            click.echo(i18n.t("derived_units", s.lang, n=d["n_derived"], of=d["n_new_in_crosswalk"], old=d["derived_from"],
                              merged=d["n_merged"], need=d["n_need_polygons"], unused=d["n_old_not_in_crosswalk"]))
        if "crosswalk" in r:
            x = r["crosswalk"]
            click.echo(i18n.t("crosswalk_notes", s.lang, n=x["n_links"], split=x["n_split_old_communes"],
                              weights=i18n.word("value", "weights_" + x["weights"], s.lang), low=x["n_low_confidence"],
                              none=len(x["no_successor"]), report=r["report_path"]))
            if x.get("refused") or x.get("kept_without_polygon"):
                click.echo(i18n.t("crosswalk_partial", s.lang, n=len(x["refused"]), kept=len(x.get("kept_without_polygon", [])),
                                  report=r["report_path"]))
                for line in x["refused"][:10]:
                    click.echo("  " + line)
            if x.get("barely_overlapping"):
                click.echo(i18n.t("crosswalk_overlap", s.lang, n=len(x["barely_overlapping"]), listed=", ".join(
                    f"{b['old_code']}→{b['new_code']} ({b['share']:.0%})" for b in x["barely_overlapping"][:10])))
        if "population_file" in r:
            p = r["population_file"]
            click.echo(i18n.t("population_from_file", s.lang, path=p["path"], n_unknown=len(p["unknown"]),
                              methods=", ".join(f"{k} {v}" for k, v in p["by_method"].items())))
        if r.get("provinces_unnamed"):
            click.echo(i18n.t("provinces_unnamed", s.lang, n=len(r["provinces_unnamed"]),
                              codes=", ".join(r["provinces_unnamed"][:10])))
        if "provinces_file" in r:
            n = r["provinces_file"]
            worst = ", ".join(f"{p['name'] or p['code']} {p['outside_km2']:g} km²" for p in n["provinces_not_nesting"][:5])
            click.echo(i18n.t("provinces_nest" if n["nest"] else "provinces_do_not_nest", s.lang, n=n["n_communes_outside"],
                              km2=n["outside_km2"], worst=worst, missing=", ".join(n["provinces_missing_from_file"]) or "-"))

    @cli.command("import-cases")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--community", default=None, help="true/false for rows without a community value.")
    @click.option("--source-known", default=None, help="true/false for rows without a source_known value.")
    def import_cases_cmd(path, community, source_known):
        """Nhập ca bệnh (danh sách ca hoặc số ca theo ngày, CSV/XLSX) / import cases."""
        _run_import(lambda s: import_cases(ctx.store(), path, s.rejects_dir, config.today(),
                                           option_bool("--community", community),
                                           option_bool("--source-known", source_known)), ctx.settings(),
                    "import-cases", path)

    @cli.command("import-lockdowns")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--crs", default=None, help="CRS to assume when the file has none.")
    def import_lockdowns_cmd(path, crs):
        """Nhập vùng phong tỏa / import lockdown polygons."""
        _run_import(lambda s: import_lockdowns(ctx.store(), path, s.rejects_dir, config.today(), crs), ctx.settings(),
                    "import-lockdowns", path)

    @cli.command("import-flags")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_flags_cmd(path):
        """Nhập cờ của Ban Chỉ đạo (Y2) / import committee flags."""
        _run_import(lambda s: import_flags(ctx.store(), path, s.rejects_dir, config.today()), ctx.settings(), "import-flags", path)

    @cli.command("import-indicators")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_indicators_cmd(path):
        """Nhập độ bao phủ vắc xin, năng lực điều trị... theo đơn vị và ngày / import indicators."""
        _run_import(lambda s: import_indicators(ctx.store(), path, s.rejects_dir, config.today()), ctx.settings(),
                    "import-indicators", path)

    @cli.command("carry-over")
    @click.option("--from", "from_version", required=True, help="Phiên bản ranh giới cũ / the earlier boundary version.")
    @click.option("--date", "day", default=None, help="Các cấp có hiệu lực ngày này (mặc định hôm nay) / in force on.")
    @click.option("--by", required=True, help="Người chuyển / who carries them over.")
    def carry_over_cmd(from_version, day, by):
        """Chuyển cấp đã công bố sang ranh giới hiện hành qua bảng chuyển mã / carry declared levels over the reform."""
        s = ctx.settings()
        try:
            r = declared.carry_over(ctx.store(), from_version, _parse_day(day) if day else config.today(), by)
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "carry-over", "ok", target=from_version, detail=r)
        click.echo(i18n.t("carried_over", s.lang, **r))

    @cli.command("declare")
    @click.option("--unit", "unit_code", default=None, help="Mã đơn vị (xã, huyện hoặc tỉnh) / unit code.")
    @click.option("--level", default=None, help="safe | risk | high_risk | very_high_risk (or cấp 1-4)")
    @click.option("--from", "valid_from", default=None, help="YYYY-MM-DD or dd/mm/yyyy")
    @click.option("--until", "valid_until", default="", help="optional end date")
    @click.option("--decision", default=None, help='số quyết định, e.g. "123/QĐ-UBND"')
    @click.option("--by", "by", default=None, help="người ghi / who records it")
    @click.option("--reason", default="")
    @click.option("--file", "path", default=None, type=click.Path(path_type=Path), help="CSV/XLSX batch instead.")
    def declare_cmd(unit_code, level, valid_from, valid_until, decision, by, reason, path):
        """Ghi cấp độ Ban Chỉ đạo đã công bố / record an officially declared level."""

        if path is not None:
            defaults = {"decision": decision, "by": by}      # for rows of the file that give none
            _run_import(lambda s: declared.declare_file(ctx.store(), path, s.rejects_dir, config.today(), defaults),
                        ctx.settings(), "declare", path)
            return
        row = {"unit": unit_code or "", "level": level or "", "from": valid_from or "", "until": valid_until,
               "decision": decision or "", "by": by or "", "reason": reason}
        _run_import(lambda s: declared.declare_table(ctx.store(), pd.DataFrame([row]), None, s.rejects_dir, config.today()), ctx.settings(),
                    "declare")
