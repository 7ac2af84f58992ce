"""Users and tokens, the audit log, the nginx site."""
from __future__ import annotations

import click

from geo.base import i18n
from geo.base.errors import ZonesError
from geo.cli.common import ROOT, Context, _fail
from geo.domain import audit
from geo.serve import auth


def add(cli: click.Group, ctx: Context) -> None:
    users_cli = click.Group("users", help="Người dùng và mã truy cập / users and tokens.")
    cli.add_command(users_cli)

    @users_cli.command("add")
    @click.argument("name")
    @click.option("--role", type=click.Choice(["viewer", "operator", "approver", "admin"]), required=True)
    def users_add(name, role):
        """Tạo người dùng (hoặc cấp mã mới) / create a user or re-issue a token."""
        s = ctx.settings()
        try:
            token = auth.add_user(ctx.store(), name, role)
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "users-add", "ok", target=name, detail={"role": role})
        click.echo(i18n.t("user_added", s.lang, name=name, role=role, token=token))

    @users_cli.command("revoke")
    @click.argument("name")
    def users_revoke(name):
        """Thu hồi mã của người dùng / revoke a user's token."""
        s = ctx.settings()
        try:
            auth.revoke(ctx.store(), name)
        except ZonesError as exc:
            _fail(exc, s.lang)
        audit.record(ctx.store(), audit.cli_user(), None, "cli", "users-revoke", "ok", target=name)
        click.echo(i18n.t("user_revoked", s.lang, name=name))

    @users_cli.command("list")
    def users_list():
        """Liệt kê người dùng / list users."""
        for u in auth.users(ctx.store()):
            click.echo(f"{u['name']}\t{u['role']}\t{u['created_at']}" + (f"\trevoked {u['revoked_at']}" if u["revoked_at"] else ""))

    @cli.command("audit")
    @click.option("--limit", default=50, show_default=True)
    def audit_cmd(limit):
        """Nhật ký ghi dữ liệu / the audit log of every write."""
        for a in audit.audit_log(ctx.store(), limit):
            click.echo(f"{a['at']}  {a['who']} ({a['role'] or a['via']})  {a['action']} {a['target'] or ''}  "
                       f"{a['outcome']}  {a['file_name'] or ''} {(a['file_sha256'] or '')[:12]}")

    @cli.command("nginx-conf")
    @click.option("--listen", default="80", help="nginx listen address (port or host:port).")
    @click.option("--upstream", default="127.0.0.1:8000", help="Where gunicorn listens.")
    def nginx_conf_cmd(listen, upstream):
        """In cấu hình nginx đặt trước dịch vụ / print the nginx site for this data folder."""
        text = (ROOT / "deploy" / "nginx-zones.conf").read_text(encoding="utf-8")
        click.echo(text.replace("@LISTEN@", listen).replace("@UPSTREAM@", upstream)
                   .replace("@RUNS@", str(ctx.settings().runs_dir))
                   .replace("@SHAPES@", str(ctx.settings().data_dir / "shapes")), nl=False)
