"""The command-line interface (`flask --app server ...`): click commands over geo/ and rules/, one
module per kind of work. server.py adds them to the app's command group; they read the app's settings
and rulesets from its configuration mapping, so this package never imports flask.

Commands are loaded lazily (click's "lazily loading subcommands"): `--help` lists them from COMMANDS without
importing any, and running one imports its own module only, so `flask --app server users add` does not pay for
the evaluation, and `reclassify` not for the console's workbooks."""
from __future__ import annotations

import importlib
from functools import cached_property

import click

from geo.cli.common import Context, _guard_all

# name -> (the module of geo.cli that defines it, the line `--help` lists it with: the command's first line,
# checked against it by tests/cli/test_cli.py)
COMMANDS: dict[str, tuple[str, str]] = {
    "import-units": ("imports", "Nhập ranh giới xã (mọi định dạng GDAL đọc được) / import commune boundaries."),
    "import-cases": ("imports", "Nhập ca bệnh (danh sách ca hoặc số ca theo ngày, CSV/XLSX) / import cases."),
    "import-lockdowns": ("imports", "Nhập vùng phong tỏa / import lockdown polygons."),
    "import-flags": ("imports", "Nhập cờ của Ban Chỉ đạo (Y2) / import committee flags."),
    "import-indicators": ("imports", "Nhập độ bao phủ vắc xin, năng lực điều trị... theo đơn vị và ngày / "
                                     "import indicators."),
    "carry-over": ("imports", "Chuyển cấp đã công bố sang ranh giới hiện hành qua bảng chuyển mã / "
                              "carry declared levels over the reform."),
    "declare": ("imports", "Ghi cấp độ Ban Chỉ đạo đã công bố / record an officially declared level."),
    "reclassify": ("runs", "Phân loại lại và công bố kết quả cho một ngày / reclassify and publish a day."),
    "publish-anyway": ("runs", "Công bố một lần chạy bị giữ lại bởi kiểm tra chất lượng / publish a held run."),
    "holds": ("runs", "Các lần chạy bị giữ lại và lý do / held runs and their reasons."),
    "backfill": ("runs", "Phân loại lại và công bố từng ngày của một khoảng / reclassify and publish a date range."),
    "report": ("outputs", "Báo cáo buổi sáng: thay đổi so với lần trước / the morning report."),
    "export": ("outputs", "Xuất kết quả đã công bố / export a published run."),
    "users": ("admin", "Người dùng và mã truy cập / users and tokens."),
    "audit": ("admin", "Nhật ký ghi dữ liệu / the audit log of every write."),
    "nginx-conf": ("admin", "In cấu hình nginx đặt trước dịch vụ / print the nginx site for this data folder."),
    "rules": ("rulesets", "Bộ quy tắc: kiểm tra, liệt kê, đánh giá bảng / rulesets."),
    "review": ("review", "Nơi chưa xác định được xã, chờ người vận hành chọn / announced places waiting for a choice."),
    "decision": ("decisions", "Quyết định công bố cấp độ dịch / the committee's decision on a run's proposal."),
}


class LazyCommand(click.Command):
    """A command of COMMANDS: listed by its line; its module is imported when it runs or its own help is asked."""

    def __init__(self, name: str, module: str, line: str, loader: ModuleLoader) -> None:
        super().__init__(name, help=line, short_help=line)
        self.module, self.loader = module, loader

    @cached_property
    def loaded(self) -> click.Command:
        assert self.name is not None
        return self.loader.commands(self.module)[self.name]

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # the context (and everything after it: parsing, help, invoking) is the loaded command's
        return self.loaded.make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context):
        return self.loaded.invoke(ctx)


class ModuleLoader:
    """Imports a module of geo.cli once and adds its commands to a group of the app's kind (an AppGroup: each runs
    in the app's context), each guarded against machine faults."""

    def __init__(self, kind: type[click.Group], cfg) -> None:
        self.kind, self.cfg, self.ctx = kind, cfg, Context(cfg)
        self.loaded: dict[str, dict[str, click.Command]] = {}

    def commands(self, module: str) -> dict[str, click.Command]:
        if module not in self.loaded:
            group = self.kind()
            importlib.import_module(f"geo.cli.{module}").add(group, self.ctx)
            for command in group.commands.values():
                _guard_all(command, self.cfg)
            self.loaded[module] = dict(group.commands)
        return self.loaded[module]


def register(cli: click.Group, cfg) -> None:
    """Add the commands to `cli` (the app's command group); `cfg` is the app's configuration mapping."""
    loader = ModuleLoader(type(cli), cfg)
    for name, (module, line) in COMMANDS.items():
        cli.add_command(LazyCommand(name, module, line, loader))
