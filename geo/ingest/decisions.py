"""Approving a run's proposal: the committee's decision. The approved levels of one province's units (the computed
ones, or another level an approver chose with a written reason) are recorded as declared levels of the boundary
version in force, from the decision's time plus the ruleset's notice, with the decision's number and signer; the
decision and each unit it changes (approved beside computed and the level it replaces) are kept for its document
and the units' history. All of it in one transaction: either every unit of a decision is in force, or none.

A decision records only the units whose level it changes: a later one supersedes those, the others stay as the
earlier decisions left them."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from unidecode import unidecode

from geo.base.config import TIMEZONE
from geo.base.errors import InputError, NotFoundError
from geo.domain import proposals
from geo.ingest.declared import CONTROL, DECLARED_AHEAD_DAYS, TEXT_MAX
from geo.store import decisions, inputs
from geo.store.database import Store

# A decision's number as offices write it: "123/QĐ-UBND", "45/TB-BCĐ".
NUMBER = re.compile(r"^\d{1,6}/[0-9A-Za-z.\-]{1,30}$")  # matched on the number without its diacritics
# A signed time typed as the console writes it: dd/mm/yyyy HH:MM (Vietnam time).
SIGNED = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?\s*$")
RECIPIENTS_MAX = 20


@dataclass
class Decision:
    """What the approver writes of a decision (the console's form, or the command line)."""
    number: str
    signed: str                     # dd/mm/yyyy HH:MM, Vietnam time
    signer: str
    signer_title: str = ""
    recipients: list[str] = field(default_factory=list)
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)     # code -> (level, reason)


def _text(name: str, value: str, most: int, required: bool = True) -> str:
    value = str(value or "").strip()
    if required and not value:
        raise InputError("bad_param", name=name, value="", allowed="not empty")
    if len(value) > most or re.search(CONTROL, value):
        raise InputError("bad_param", name=name, value=value[:40], allowed=f"at most {most} characters, no line break")
    return value


def signed_at(text: str, run_date: str, today: dt.date) -> dt.datetime:
    """The signed time (Vietnam time): on or after the run's day, not far ahead."""
    m = SIGNED.match(text or "")
    try:
        when = dt.datetime(int(m.group(3)), int(m.group(2)), int(m.group(1)), int(m.group(4) or 0), int(m.group(5) or 0),
                           tzinfo=TIMEZONE) if m else None
    except ValueError:
        when = None
    if when is None or not dt.date.fromisoformat(run_date) <= when.date() <= today + dt.timedelta(days=DECLARED_AHEAD_DAYS):
        raise InputError("bad_param", name="signed", value=str(text)[:40],
                         allowed=f"dd/mm/yyyy HH:MM, on or after {run_date[8:10]}/{run_date[5:7]}/{run_date[:4]}")
    return when


def notice_hours(ruleset) -> float:
    """How long before a decision applies: the ruleset's publication notice (NQ 128: 48 hours), else its notice."""
    s = ruleset.settings
    return float(s.get("publication_notice_hours") or s.get("notice_hours") or 0)


def approve(store: Store, runs_dir: Path, run: dict, ruleset, province_code: str, d: Decision, by: str,
            today: dt.date) -> dict:
    """Record the decision on `run`'s proposal for `province_code`; -> the decision (with its id and units)."""
    number = _text("number", d.number, TEXT_MAX["decision"])
    if not NUMBER.match(unidecode(number)):
        raise InputError("decision_number", value=number)
    signer = _text("signer", d.signer, TEXT_MAX["by"])
    title = _text("signer_title", d.signer_title, TEXT_MAX["by"], required=False)
    recipients = [_text("recipients", r, TEXT_MAX["by"]) for r in d.recipients if str(r).strip()][:RECIPIENTS_MAX]
    when = signed_at(d.signed, run["date"], today)
    if store.current_boundary_version() != run["boundary_version"]:
        raise InputError("bad_param", name="run", value=run["run_id"], allowed="a run of the boundary version in force")
    rows = proposals.rows(store, runs_dir, run, province_code)
    if rows.empty:
        raise NotFoundError("not_found", what=f"province {province_code} in run {run['run_id']}")
    levels = [*ruleset.level_ids]
    known = dict(zip(rows["code"], rows["computed_level"], strict=True))
    # a change is a level other than the computed one (the form may send every unit's level)
    wanted = {c: (lv, why) for c, (lv, why) in d.changes.items() if known.get(c, "") != lv}
    for code, (level, reason) in wanted.items():
        if code not in known:
            raise InputError("bad_param", name="unit", value=code, allowed=f"a unit of province {province_code}")
        if level not in levels:
            raise InputError("bad_param", name="level", value=level, allowed=", ".join(levels))
        _text("reason", reason, TEXT_MAX["reason"])
    rows["level"] = [wanted[c][0] if c in wanted else lv for c, lv in zip(rows["code"], rows["computed_level"], strict=True)]
    rows["reason"] = [wanted[c][1].strip() if c in wanted else None for c in rows["code"]]
    unknown = rows["level"].isin(["unknown"]) | rows["level"].isna()
    changed = rows[(rows["level"] != rows["in_force_level"]) & ~unknown]
    if changed.empty:
        raise InputError("nothing_to_approve", province=str(rows["province_name"].iloc[0]))
    effective = when + dt.timedelta(hours=notice_hours(ruleset))
    decision = {"id": secrets.token_hex(8), "number": number, "signed_at": when.isoformat(timespec="minutes"),
                "effective_at": effective.isoformat(timespec="minutes"), "signer": signer, "signer_title": title,
                "recipients": recipients, "province_code": str(province_code),
                "province_name": str(rows["province_name"].iloc[0]), "run_id": run["run_id"], "run_date": run["date"],
                "boundary_version": run["boundary_version"], "ruleset": ruleset.id, "approved_by": by,
                "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "n_units": len(changed)}
    units = [{"decision_id": decision["id"], "code": r.code, "kind": r.kind, "name": r.name, "district_name": r.district_name,
              "computed_level": r.computed_level, "level": r.level, "previous_level": r.in_force_level, "reason": r.reason}
             for r in changed.itertuples()]
    recorded = decision["approved_at"]
    declared = []
    for u in units:
        vals = (u["code"], u["level"], effective.date().isoformat(), None, number, signer, u["reason"])
        declared.append((*vals, recorded, hashlib.sha1(repr((*vals, run["boundary_version"])).encode()).hexdigest(),
                         run["boundary_version"]))
    with store.transaction() as con:          # the decision, its units and their levels: all or nothing
        if decisions.exists_number(con, number, decision["province_code"]):
            raise InputError("decision_exists", number=number)
        decisions.add(con, decision, units)
        inputs.upsert_declarations(con, declared)
    return {**decision, "units": pd.DataFrame(units)}


def changes_from_form(fields) -> dict[str, tuple[str, str]]:
    """The approver's changes among a form's fields: level::<code> = level, reason::<code> = why."""
    pairs = dict(fields)
    return {k[len("level::"):]: (str(v), str(pairs.get("reason::" + k[len("level::"):], "")))
            for k, v in pairs.items() if isinstance(k, str) and k.startswith("level::") and v}
