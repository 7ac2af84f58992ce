"""Messages in Vietnamese (default) and English. Set ZONES_LANG=en (or pass lang) for English."""
from __future__ import annotations

import os

MESSAGES: dict[str, tuple[str, str]] = {
    # errors
    "file_missing": ("Không tìm thấy tệp {path}", "File not found: {path}"),
    "file_unreadable": ("Không đọc được tệp {path}: {detail}", "Cannot read {path}: {detail}"),
    "no_crs": ("Tệp {path} không có hệ tọa độ; dùng --crs EPSG:xxxx", "{path} has no CRS; pass --crs EPSG:xxxx"),
    "bad_crs": ("Hệ tọa độ không hợp lệ {crs!r}: {detail}", "Invalid CRS {crs!r}: {detail}"),
    "missing_columns": ("Tệp {path} thiếu cột {columns}; có các cột {present}",
                        "{path} lacks column(s) {columns}; it has {present}"),
    "bad_column_option": ("--column phải có dạng ten=COT, nhận được {value!r}", "--column must be name=COLUMN, got {value!r}"),
    "units_invalid": ("Tệp {path} có {n} lỗi đối tượng:\n{details}", "{path} has {n} feature error(s):\n{details}"),
    "no_cases": ("Chưa nhập dữ liệu ca bệnh: chạy import-cases trước (tệp số ca bằng 0 nếu không có ca)",
                 "No case data imported: run import-cases first (a file of zero counts if there were no cases)"),
    "no_units": ("Chưa có ranh giới xã: chạy import-units trước", "No commune boundaries: run import-units first"),
    "no_ruleset": ("Không có bộ quy tắc hiệu lực ngày {date}", "No ruleset in force on {date}"),
    "ruleset_invalid": ("Bộ quy tắc không hợp lệ: {detail}", "Invalid ruleset: {detail}"),
    "ruleset_not_for_communes": ("Bộ quy tắc {id} chỉ dùng cho bảng (rules evaluate), không phân loại xã",
                                 "Ruleset {id} evaluates tables only (rules evaluate), not communes"),
    "ruleset_ok": ("{path}: hợp lệ — {id}, {n_rules} tiêu chí, {n_examples} ví dụ đều đúng",
                   "{path}: valid — {id}, {n_rules} rules, {n_examples} worked examples pass"),
    "evaluated": ("Đã đánh giá {n} dòng bằng {id}: {summary}; ghi vào {path}",
                  "Evaluated {n} rows with {id}: {summary}; written to {path}"),
    "skipped_adjacency": ("Bỏ qua tiêu chí giáp ranh (không có hình học): {ids}",
                          "Adjacency rules skipped (no geometry): {ids}"),
    "whatif": ("Thử nghiệm ngày {date} với {ruleset}: {n} đơn vị đổi cấp so với kết quả đã công bố (không công bố)",
               "What-if for {date} with {ruleset}: {n} units change level against the published run (not published)"),
    "unknown_ruleset": ("Không có bộ quy tắc {id!r}{hint}", "No ruleset {id!r}{hint}"),
    "bad_date": ("Ngày không hợp lệ {value!r} (YYYY-MM-DD)", "Invalid date {value!r} (YYYY-MM-DD)"),
    "bad_param": ("Tham số {name} không hợp lệ: {value!r}; chấp nhận {allowed}",
                  "Invalid parameter {name}: {value!r}; allowed {allowed}"),
    "no_run_for_date": ("Chưa có kết quả công bố cho ngày {date}", "No published run for {date}"),
    "upload_bad": ("Tệp tải lên {name} bị từ chối: {detail}", "Upload {name} refused: {detail}"),
    "upload_type": ("Tệp tải lên {name} có kiểu {kind}; chỉ nhận {allowed}", "Upload {name} is {kind}; accepted: {allowed}"),
    "upload_missing": ("Không có tệp trong yêu cầu (trường 'file')", "No file in the request (field 'file')"),
    "auth_needed": ("Cần mã truy cập (Authorization: Bearer ...)", "A token is needed (Authorization: Bearer ...)"),
    "auth_role": ("Người dùng {name} ({role}) không được {action}; cần vai trò {needed}",
                  "User {name} ({role}) may not {action}; role {needed} needed"),
    "user_added": ("Đã tạo người dùng {name} ({role}). Mã truy cập (chỉ hiện một lần): {token}",
                   "User {name} ({role}) created. Token (shown once): {token}"),
    "user_revoked": ("Đã thu hồi mã của {name}", "Token of {name} revoked"),
    # why the data-quality gate holds a run (geo/publish/quality.py)
    "hold_jump": ("tăng đột biến: {n} ca báo cáo ngày {day}, hơn {factor} lần ngày cao nhất trong {days} ngày trước ({most})",
                  "jump: {n} cases reported on {day}, more than {factor}x the highest day of the {days} before ({most})"),
    "hold_cumulative_down": ("tổng dồn giảm: số ca báo cáo đến ngày {day} là {then} khi ngày đó được công bố, nay còn {now}",
                             "cumulative down: cases reported up to {day} were {then} when that day was published, now {now}"),
    "hold_cumulative_up": ("tổng dồn tăng bất thường: số ca báo cáo đến ngày {day} là {then} khi ngày đó được công bố, "
                           "nay là {now} ({times} lần): dữ liệu cũ bị nhập lại, bị nhân lên?",
                           "cumulative up: cases reported up to {day} were {then} when that day was published, now {now} "
                           "({times}x): the history was imported again, inflated?"),
    "hold_implausible": ("không hợp lý: {n} ca báo cáo ngày {day}, {share} dân số trong một ngày (ngày cao nhất cả nước là 0,5%)",
                         "implausible: {n} cases reported on {day}, {share} of the population in one day "
                         "(Vietnam's worst day was 0.5%)"),
    "hold_unplaced": ("không xác định được xã: {share} số ca trong cửa sổ không thuộc xã nào (lần trước {before}, giới hạn {limit})",
                      "unplaced: {share} of the window's cases fall in no commune (previous run {before}, limit {limit})"),
    "hold_stale": ("dữ liệu cũ: dòng ca bệnh mới nhất là ngày {newest}, quá {days} ngày trước ngày {day}",
                   "stale: the newest case row is of {newest}, more than {days} days before {day}"),
    "hold_stale_communes": ("dữ liệu cũ: {n} xã báo cáo số ca hằng ngày đã im lặng quá {days} ngày: {listed}",
                            "stale: {n} commune(s) reporting daily counts silent for more than {days} days: {listed}"),
    "run_held": ("Lần chạy {run_id} ngày {date} bị GIỮ LẠI, chưa công bố (kiểm tra chất lượng dữ liệu). "
                 "Sửa dữ liệu rồi chạy lại, hoặc: publish-anyway {run_id} --reason ...",
                 "Run {run_id} for {date} HELD, not published (data-quality gate). "
                 "Fix the data and run again, or: publish-anyway {run_id} --reason ..."),
    "crosswalk_without_previous": ("Bảng chuyển đổi {path}: không có phiên bản ranh giới trước {version} để chuyển từ đó",
                                   "Crosswalk {path}: there is no boundary version before {version} to map from"),
    "exported_file": ("Đã xuất vào {path}", "Exported to {path}"),
    "ogc_title": ("Cấp độ dịch COVID-19 — OGC API Features", "COVID-19 levels — OGC API Features"),
    "no_run": ("Chưa có kết quả nào được công bố", "No run has been published yet"),
    "levels_run": ("Ngày {date} được tính lại hàng loạt (lần chạy {run_id}): có cấp độ, bảng, GeoJSON và ảnh tiles "
                   "nhưng không có vector tiles; chạy reclassify --date {date} để có bản đầy đủ",
                   "{date} was backfilled (run {run_id}): it has levels, tables, GeoJSON and PNG tiles but no vector "
                   "tiles; run reclassify --date {date} for a full run"),
    "no_chromium": ("Chưa cài Chromium để in PDF: chạy scripts/setup.sh", "Chromium is not installed for PDF: run scripts/setup.sh"),
    "pdf_failed": ("Chromium không in được PDF: {detail}", "Chromium could not print the PDF: {detail}"),
    "report_written": ("Đã ghi báo cáo ngày {date} ({fmt}) vào {path}", "Wrote the {date} report ({fmt}) to {path}"),
    "outside_communes": ("Điểm ({lon}, {lat}) không thuộc xã nào", "The point ({lon}, {lat}) lies in no commune"),
    "no_run_id": ("Không có lần chạy {run_id}", "No run {run_id}"),
    "busy": ("Một lệnh reclassify khác đang chạy (khóa {lock}); thử lại sau",
             "Another reclassify is running (lock {lock}); try again later"),
    "line_list_needs_id": ("{path}: tệp danh sách ca cần cột case_id (hoặc cột count cho số ca theo ngày)",
                           "{path}: a line list needs a case_id column (or a count column for daily counts)"),
    "no_location_columns": ("{path}: cần lon+lat, commune_code hoặc commune_name+district_name+province_name",
                            "{path}: needs lon+lat, commune_code, or commune_name+district_name+province_name"),
    "not_found": ("Không tìm thấy {what}", "Not found: {what}"),
    "tile_zoom": ("Lớp {unit} có tiles ở mức phóng {lo}–{hi}, không có ở mức {z} (phóng to từ mức {hi})",
                  "Layer {unit} has tiles at zooms {lo}–{hi}, none at zoom {z} (overzoom from {hi})"),
    "export_format": ("Định dạng {fmt} không xuất được cho {unit}", "Format {fmt} cannot be exported for {unit}"),
    "bad_version_name": ("Tên phiên bản ranh giới {name} không hợp lệ: chỉ chữ không dấu, số, '.', '_', '-', tối đa 64 ký tự",
                         "Invalid boundary version name {name}: letters without diacritics, digits, '.', '_', '-', at most 64"),
    "version_in_use": ("Phiên bản ranh giới {version} đã được {n} lần chạy dùng nên không thể thay đổi; nhập tệp đã sửa "
                       "dưới một tên mới (kèm bảng chuyển đổi nếu mã xã thay đổi)",
                       "Boundary version {version} is used by {n} published run(s) and cannot change; import the corrected "
                       "file under a new name (with a crosswalk if commune codes changed)"),
    "version_unchanged": ("Phiên bản ranh giới {version} đã có đúng nội dung này: không thay đổi gì",
                          "Boundary version {version} already holds exactly this: nothing changed"),
    "disk_full": ("Ổ đĩa dữ liệu đã đầy ({where}): không ghi được, dữ liệu đã lưu không thay đổi; giải phóng dung lượng "
                  "rồi làm lại", "The data disk is full ({where}): nothing was written and what was stored is unchanged; "
                  "free some space and try again"),
    "read_only": ("Thư mục dữ liệu chỉ cho đọc ({where}): không ghi được; các kết quả đã công bố vẫn xem được; cho phép "
                  "ghi rồi làm lại", "The data folder is read-only ({where}): nothing can be written; published runs can "
                  "still be read; make it writable and try again"),
    "store_damaged": ("Kho dữ liệu bị hỏng ({detail}): khôi phục zones.sqlite từ bản sao lưu (các thư mục runs/ vẫn "
                      "nguyên)", "The store is damaged ({detail}): restore zones.sqlite from a backup (runs/ is intact)"),
    "store_unreadable": ("Không mở được kho dữ liệu ({where}): {detail}", "Cannot open the store ({where}): {detail}"),
    "run_files_missing": ("Không đọc được tệp của lần chạy {run_id} đã công bố: thư mục runs/{run_id} bị xóa hoặc chưa "
                          "khôi phục; khôi phục từ bản sao lưu hoặc chạy lại reclassify cho ngày đó",
                          "The files of published run {run_id} cannot be read: runs/{run_id} was deleted or not restored; "
                          "restore it from a backup or reclassify that day again"),
    "tile_busy": ("Đang vẽ quá nhiều ảnh bản đồ cùng lúc; thử lại sau giây lát", "Too many map pictures being drawn; try again shortly"),
    "import_failed": ("Không nhập được {name}: lỗi ngoài dự kiến, chưa lưu gì; chi tiết trong nhật ký máy chủ",
                      "Could not import {name}: an unforeseen error, nothing was stored; the server log has the details"),
    "empty_file": ("{path}: tệp không có dòng dữ liệu", "{path}: the file has no data rows"),
    "sheets_differ": ("{path}: trang tính {first} và {other} đều có dữ liệu nhưng khác cột; đưa về một trang hoặc tách "
                      "thành từng tệp", "{path}: sheets {first} and {other} both hold data but with different columns; "
                      "put them on one sheet or in one file each"),
    # progress and summaries
    "imported_units": ("Đã nhập {n} xã, {nd} huyện, {np} tỉnh (phiên bản ranh giới {version})",
                       "Imported {n} communes, {nd} districts, {np} provinces (boundary version {version})"),
    "population_unknown": ("Dân số không đọc được, coi như chưa biết (tỷ lệ và cấp độ cần nó sẽ là chưa đánh giá): "
                           "{detail}", "Population unreadable, taken as unknown (rates and levels needing it "
                           "stay unknown): {detail}"),
    "repaired": ("Đã sửa {n} hình học không hợp lệ: {codes}", "Repaired {n} invalid geometries: {codes}"),
    "topology": ("Chồng lấn: {n_overlaps} cặp xã (tổng {overlap_km2:.2f} km²); khe hở: {n_gaps} (tổng {gap_km2:.2f} km²); báo cáo: {report}",
                 "Overlaps: {n_overlaps} commune pairs ({overlap_km2:.2f} km² in all); gaps: {n_gaps} ({gap_km2:.2f} km²); report: {report}"),
    "adjacency": ("Kề nhau: {n} cặp ({kind}, dung sai {tol} m)", "Adjacent pairs: {n} ({kind}, tolerance {tol} m)"),
    "import_summary": ("Nhận {accepted} dòng, loại {rejected} dòng{where}", "Accepted {accepted} rows, rejected {rejected} rows{where}"),
    "rejects_at": ("; dòng bị loại ghi ở {path}", "; rejected rows are in {path}"),
    "unchanged": ("Không thay đổi: {n} dòng đã có sẵn", "Unchanged: {n} rows were already stored"),
    "run_published": ("Đã công bố lần chạy {run_id} cho ngày {date} (bộ quy tắc {ruleset})",
                      "Published run {run_id} for {date} (ruleset {ruleset})"),
    "backfill_bar": ("Tính lại", "Backfill"),
    "day_unit": (" ngày", " day"),
    "backfilled": ("Đã công bố {n} ngày từ {start} đến {end} (bộ quy tắc {rulesets})",
                   "Published {n} days from {start} to {end} (ruleset {rulesets})"),
    "level_summary_days": ("{unit} (số đơn vị × ngày): {summary}", "{unit} (unit-days): {summary}"),
    "level_summary": ("{unit}: {summary}", "{unit}: {summary}"),
    "exported": ("Đã ghi {n} đơn vị vào {path}", "Wrote {n} units to {path}"),
    "serving": ("Bản đồ: {url}", "Map: {url}"),
    "stage": ("… {stage}", "… {stage}"),
}

STAGES = {
    "read": ("đọc tệp", "reading the file"),
    "validate": ("kiểm tra và sửa hình học", "checking and repairing geometry"),
    "districts_provinces": ("dựng huyện và tỉnh từ xã", "deriving districts and provinces"),
    "adjacency_topology": ("đo kề nhau, chồng lấn, khe hở", "measuring adjacency, overlaps, gaps"),
    "store": ("lưu", "storing"),
    "load": ("đọc dữ liệu đầu vào", "loading inputs"),
    "assign": ("gán ca bệnh vào xã", "assigning cases to communes"),
    "metrics": ("tính chỉ số theo xã", "computing commune metrics"),
    "classify": ("phân loại xã", "classifying communes"),
    "hysteresis": ("áp dụng quy tắc hạ mức", "applying the step-down rules"),
    "rollup": ("tổng hợp huyện, tỉnh", "rolling up to districts and provinces"),
    "tables": ("lập bảng kết quả và giải thích", "building the tables and explanations"),
    "publish_geojson": ("ghi GeoJSON", "writing GeoJSON"),
    "publish_gpkg": ("ghi GeoPackage", "writing GeoPackage"),
    "publish_tiles": ("dựng vector tiles", "building vector tiles"),
    "publish_png": ("dựng ảnh tiles tổng quan", "building overview PNG tiles"),
    "publish_commit": ("công bố", "publishing"),
}

UNIT_LABELS = {
    "commune": ("Xã/phường", "Communes"),
    "district": ("Quận/huyện", "Districts"),
    "province": ("Tỉnh/thành phố", "Provinces"),
}


def lang(explicit: str | None = None) -> str:
    value = (explicit or os.environ.get("ZONES_LANG") or "vi").lower()
    return "en" if value.startswith("en") else "vi"


def t(key: str, language: str | None = None, **params) -> str:
    vi, en = MESSAGES[key]
    return (en if lang(language) == "en" else vi).format(**params)


def stage_label(stage: str, language: str | None = None) -> str:
    vi, en = STAGES.get(stage, (stage, stage))
    return t("stage", language, stage=en if lang(language) == "en" else vi)


def unit_label(unit: str, language: str | None = None) -> str:
    vi, en = UNIT_LABELS[unit]
    return en if lang(language) == "en" else vi
