"""``python -m pipeline demo``: a realistic synthetic inbox for the sample roster, rolled up at once.

The demo plays the units' part. It generates each unit's real template, types the answers in
with openpyxl the way people do (mostly clean numbers, some “12次”, full-width digits, “无”,
blanks, a few real mistakes), and saves the attachments into dated sub-folders as the bureau's
staff do. Then it runs the same rollup as ``python -m pipeline rollup`` and prints the same
summary. Its answer key, ``truth.json``, is computed from what the demo itself typed, never from
the pipeline, so the rollup can be checked against it. One fixed seed makes every run identical.

It never mixes demo files into a real inbox: it works in its own folders (default ``demo/inbox``
and ``demo/outbox``) and marks each with a ``.demo`` file: beside the inbox (``demo/inbox.demo``, so
that the inbox holds only what units would send) and inside the outbox. The inbox's marker lists what
the demo wrote, and a file it does not list (a real return dropped in by mistake) stops the demo.
``make remind INBOX=demo/inbox`` attaches templates from ``demo/templates/``, never the real ``templates/``. The outbox
holds only what the program writes (the demo's rollup, and the drafts of a ``make remind`` run on
it), so a marked outbox is the demo's whole and is emptied on the next run. An unmarked folder
that is not empty is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.demo.media import write_own_sheet, write_word_form
from pipeline.demo.samples import add_to_truth, demo_materials
from pipeline.errors import PipelineError
from pipeline.forms.generate import FormContent, write_form
from pipeline.forms.spec import FormSpec, template_name
from pipeline.intake.arrival import arrival_date
from pipeline.model import Outcome, Status
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster, Unit
from pipeline.store.atomic import atomic_path

if TYPE_CHECKING:
    from pipeline.job import Progress

SEED = 20230601
MARKER = ".demo"
WRITTEN_BY = "python -m pipeline demo"
TEMPLATES_NAME = "templates"  # the demo's own templates, beside its inbox: demo/templates/


def demo_templates(inbox: Path) -> Path | None:
    """The demo's own template folder when ``inbox`` is one the demo wrote (``make remind INBOX=demo/inbox``), else None.

    The templates a reminder attaches are generated for the demo's roster and campaign: they go beside the demo's
    inbox, never into the real ``templates/``.
    """
    return inbox.parent / TEMPLATES_NAME if _listed(inbox) is not None else None

# What a file should come to on its own, and what a unit's status should be (pipeline.checks.rollup's labels).

# What each unit of the sample roster does, by roster position; units beyond the list send clean forms.
ANNEX1_PLAN = (
    "clean", "variants", "nil_and_blank", "negative", "decimal", "abc", "fewer_people",
    "missing", "missing", "resubmitted", "duplicated", "late", "text_date", "approximate",
    "chinese_numeral", "generic_template", "outlier", "dotted_date", "word_form", "own_sheet",
)
ANNEX2_PLAN = (
    "clean", "bracket_phone", "number_mobile", "clean", "bad_mobile", "clean", "clean",
    "missing", "missing", "clean", "clean", "late", "no_email", "clean",
    "clean", "clean", "number_mobile", "clean", "superseded", "missing",
)
# A unit not on the roster that got hold of the generic template.
STRANGER = "清河县顺风驾驶员培训学校"

# Count fields whose numbers run to thousands (audiences, leaflets, quiz answers).
_LARGE = {"s5_materials", "s6_quiz_answers", "s7_policy_audience", "s8_culture_audience", "s8_giveaways"}
_PEOPLE_UNITS = {"人", "人次"}
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_DIGITS = "零一二三四五六七八九"
_PEOPLE = (
    ("王建国", "wangjianguo"), ("李秀英", "lixiuying"), ("张伟", "zhangwei"), ("刘洋", "liuyang"),
    ("陈静", "chenjing"), ("杨帆", "yangfan"), ("赵志强", "zhaozhiqiang"), ("黄丽", "huangli"),
    ("周海涛", "zhouhaitao"), ("吴敏", "wumin"), ("徐立新", "xulixin"), ("孙红梅", "sunhongmei"),
    ("马俊", "majun"), ("朱晓东", "zhuxiaodong"), ("胡玉兰", "huyulan"), ("郭振华", "guozhenhua"),
    ("何平", "heping"), ("高志刚", "gaozhigang"), ("林芳", "linfang"), ("罗永庆", "luoyongqing"),
)
_TITLES = ("安全员", "安全科科长", "办公室主任", "副经理", "安全总监", "安全股股长", "综合科科员")
_MOBILE_PREFIXES = ("133", "135", "137", "138", "139", "150", "151", "158", "159", "177", "187", "189")
_CASES = (
    "组织驾驶员观看“4·26”重大道路交通事故警示片，剖析疲劳驾驶、超速行驶典型案例，逐人签订安全承诺书。",
    "在客运站候车大厅设置安全宣传咨询台，发放《旅客乘车安全须知》，现场讲解危险品查堵知识。",
    "联合执法大队对辖区危货运输企业开展“四不两直”暗查暗访，发现并督促整改动态监控不在线问题。",
    "项目部开展高处坠落、临时用电事故应急演练，邀请监理单位现场点评，完善应急预案。",
    "利用公交车载电视、站台电子屏循环播放安全提示，覆盖全县主要线路。",
)


@dataclass
class DemoReturn:
    """One attachment as the demo saves it, and what the rollup should make of it."""

    form_id: str
    unit: Unit | None  # the roster unit that sends it; None for a unit not on the roster
    received: dt.date  # the day it arrived: its folder and its file time
    name: str  # file name as saved
    typed: dict[str, Any]  # field id -> what was typed (None: left blank)
    counts: dict[str, int | None]  # count field id -> the number the rollup should count
    verdict: str  # Status.PASSED / Status.WARNED / Status.RETURNED for this file on its own
    report_date: dt.date | None = None  # the 填报日期 meant, when the form has one
    generic: bool = False  # typed into the generic blank template
    copy_of: DemoReturn | None = None  # a byte-identical copy of another return
    subfolder: str = ""
    hour: int = 9
    medium: str = "template"  # template, word (the notice's Word form) or own_sheet (a sheet the unit made)
    # What the rollup must make of this file, declared by the scenario that wrote it (the answer key's source).
    expect: Outcome = Outcome.ACCEPTED

    def __post_init__(self) -> None:
        if self.copy_of is not None:
            self.expect = Outcome.DUPLICATE
        elif self.verdict == Status.RETURNED:
            self.expect = Outcome.REJECTED

    @property
    def rel(self) -> str:
        """Path below the inbox, with forward slashes."""
        parts = [self.received.isoformat(), self.subfolder, self.name]
        return "/".join(p for p in parts if p)


@dataclass
class Plan:
    """Every return of the demo, in the order they arrived."""

    returns: list[DemoReturn] = field(default_factory=list)

    def add(self, ret: DemoReturn) -> DemoReturn:
        """Append a return."""
        self.returns.append(ret)
        return ret


# ----------------------------------------------------------------------------- typing like a unit


def _chinese_number(n: int) -> str:
    """0..99 as written in Chinese numerals (十二, 二十三)."""
    if not 0 <= n <= 99:
        raise ValueError(n)
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + ("" if ones == 0 else _DIGITS[ones])


def _pairs(spec: FormSpec) -> dict[str, str]:
    """Participants field -> its sessions field, from the spec's cross-field rules."""
    return {second: first for rule in spec.rules for first, second in rule.pairs}


def _clean_counts(spec: FormSpec, rng: random.Random, n: int) -> list[dict[str, int | None]]:
    """Plausible, error-free numbers for ``n`` units: sessions first, then participants per session.

    Each field has a typical value; the units' values are spread evenly from 60% to 140% of it and
    shuffled, so that no clean return is ever a statistical outlier (the deliberate one stands out).
    """
    pairs = _pairs(spec)
    firsts = set(pairs.values())
    typical: dict[str, float] = {}
    for f in spec.fields:
        if f.kind != "count" or f.id in pairs:
            continue
        if f.id in firsts:
            typical[f.id] = rng.randint(3, 8)
        elif f.id in _LARGE:
            typical[f.id] = rng.randint(1500, 3000)
        elif f.unit in _PEOPLE_UNITS:
            typical[f.id] = rng.randint(60, 200)
        else:
            typical[f.id] = rng.randint(5, 15)
    for second, first in pairs.items():
        # At least 8 people a session at the low end keeps every participants count above its sessions.
        typical[second] = typical[first] * rng.randint(10, 30)
    units: list[dict[str, int | None]] = [{} for _ in range(n)]
    for f in spec.fields:
        if f.kind != "count":
            continue
        slots = [round(typical[f.id] * (0.6 + 0.8 * i / max(n - 1, 1))) for i in range(n)]
        rng.shuffle(slots)
        for counts, value in zip(units, slots, strict=True):
            counts[f.id] = value
    return units


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"


def _landline(rng: random.Random) -> str:
    return f"0311-66{rng.randint(10_000, 99_999)}"


def _file_name(spec: FormSpec, unit: Unit, rng: random.Random) -> str:
    """The template's own name mostly; sometimes renamed the way people rename attachments."""
    style = rng.random()
    if style < 0.6:
        return template_name(spec, unit)
    if style < 0.8:
        return f"{unit.name}{spec.annex}.xlsx"
    return f"{spec.annex}（{unit.name}）.xlsx"


def _pick(rng: random.Random, candidates: Sequence[str]) -> str:
    if not candidates:
        raise PipelineError("表单定义中缺少演示所需的填报项，无法生成演示数据。")
    return rng.choice(list(candidates))


def _annex1(spec: FormSpec, campaign: Campaign, unit: Unit, scenario: str, index: int,
            rng: random.Random, counts: dict[str, int | None]) -> list[DemoReturn]:
    """One unit's 附件1 return(s) for a scenario of ANNEX1_PLAN, starting from its clean ``counts``."""
    due = campaign.deadline(spec.deadline)
    pairs = _pairs(spec)
    counts = dict(counts)
    person = _PEOPLE[index % len(_PEOPLE)][0]
    phone: Any = rng.choice((_landline(rng), int(_mobile(rng)), f"66{rng.randint(10_000, 99_999)}"))
    reported = due - dt.timedelta(days=rng.randint(0, 9))
    typed: dict[str, Any] = {"contact": person, "phone": phone, "report_date": reported}
    if rng.random() < 0.5:
        typed["s4_case_details"] = rng.choice(_CASES)
    verdict = Status.PASSED
    singles = [fid for fid in counts if fid not in pairs and fid not in pairs.values()]
    small = [fid for fid in singles if fid not in _LARGE and spec.field(fid).unit not in _PEOPLE_UNITS]
    busy_pairs = [(first, second) for second, first in pairs.items() if (counts[first] or 0) >= 2]

    if scenario == "variants":  # “3场” with its unit, and full-width digits
        first, _ = rng.choice(busy_pairs)
        typed[first] = f"{counts[first]}{spec.field(first).unit}"
        other = _pick(rng, [fid for fid in small if (counts[fid] or 0) > 0])
        typed[other] = str(counts[other]).translate(_FULL_WIDTH)
        verdict = Status.WARNED
    elif scenario == "nil_and_blank":  # “无” for an activity not held, “—” and blanks elsewhere
        first, second = rng.choice(busy_pairs)
        counts[first] = counts[second] = 0
        typed[first] = typed[second] = "无"
        dash, *blanks = rng.sample(small, 3)
        counts[dash] = 0
        typed[dash] = "—"
        for fid in blanks:
            counts[fid] = None
            typed[fid] = None
        verdict = Status.WARNED
    elif scenario == "negative":
        typed[rng.choice(small)] = -rng.randint(1, 5)
        verdict = Status.RETURNED
    elif scenario == "decimal":
        first, _ = rng.choice(busy_pairs)
        typed[first] = 3.5
        verdict = Status.RETURNED
    elif scenario == "abc":
        typed[rng.choice(small)] = "abc"
        verdict = Status.RETURNED
    elif scenario == "fewer_people":  # participants fewer than sessions: a 警告, still counted
        first, second = rng.choice(busy_pairs)
        sessions = rng.randint(4, 8)
        counts[first], counts[second] = sessions, sessions - rng.randint(1, 3)
        verdict = Status.WARNED
    elif scenario == "late":
        reported = due + dt.timedelta(days=3)
        typed["report_date"] = reported
        verdict = Status.WARNED
    elif scenario == "text_date":
        typed["report_date"] = f"{reported.year}年{reported.month}月{reported.day}日"
    elif scenario == "dotted_date":  # read, with a 警告 that it was written irregularly
        typed["report_date"] = f"{reported.year}.{reported.month}.{reported.day}"
        verdict = Status.WARNED
    elif scenario == "approximate":  # “约2300人” and “1,234”
        about, comma = rng.sample(sorted(_LARGE & set(counts)), 2)
        typed[about] = f"约{counts[about]}人"
        counts[comma] = max(counts[comma] or 0, 1000 + rng.randint(0, 999))
        typed[comma] = f"{counts[comma]:,}"
        verdict = Status.WARNED
    elif scenario == "chinese_numeral":
        target = _pick(rng, [fid for fid in small if (counts[fid] or 0) > 0])
        counts[target] = 12
        typed[target] = _chinese_number(12)
        verdict = Status.WARNED
    elif scenario == "outlier":  # a slip of the keyboard: two zeros too many; counted, but flagged
        _, second = max(busy_pairs, key=lambda p: counts[p[1]] or 0)
        counts[second] = (counts[second] or 0) * 100
        verdict = Status.WARNED
    elif scenario == "generic_template":
        typed["unit_name"] = f" {unit.name} "
    elif scenario in ("word_form", "own_sheet"):  # read by its sentences or labels, with a 警告 saying so
        verdict = Status.WARNED
    elif scenario not in ("clean", "resubmitted", "duplicated"):
        raise ValueError(f"unknown demo scenario {scenario!r}")

    for fid, value in counts.items():
        typed.setdefault(fid, value)
    received = min(reported + dt.timedelta(days=rng.randint(0, 1)), max(reported, due))
    ret = DemoReturn(spec.id, unit, received, _file_name(spec, unit, rng), typed, counts, verdict,
                     report_date=reported, generic=scenario == "generic_template", hour=rng.randint(8, 17))
    if scenario == "generic_template":
        ret.name = f"{unit.name}-{spec.annex}.xlsx"
    if scenario == "word_form":
        ret.medium, ret.name = "word", f"{unit.name}{spec.annex}（Word版）.docx"
    if scenario == "own_sheet":
        ret.medium, ret.name = "own_sheet", f"{unit.name}安全生产月统计.xlsx"
    if scenario == "resubmitted":
        # The first version held participants for an activity it said was not held: 退回, then fixed.
        first, _ = rng.choice(busy_pairs)
        wrong = dict(typed)
        wrong[first] = 0
        early = reported - dt.timedelta(days=3)
        wrong["report_date"] = early
        old = DemoReturn(spec.id, unit, early, template_name(spec, unit), wrong, dict(counts), Status.RETURNED,
                         report_date=early, hour=10)
        ret.name = template_name(spec, unit).removesuffix(".xlsx") + "（修改后）.xlsx"
        return [old, ret]
    if scenario == "duplicated":
        # Forwarded again by a colleague two days later: the very same bytes in another folder.
        copy = DemoReturn(spec.id, unit, ret.received + dt.timedelta(days=2), ret.name, typed, counts,
                          verdict, report_date=reported, copy_of=ret, subfolder="转发", hour=15)
        return [ret, copy]
    return [ret]


def _annex2(spec: FormSpec, campaign: Campaign, unit: Unit, scenario: str, index: int,
            rng: random.Random) -> list[DemoReturn]:
    """One unit's 附件2 return(s) for a scenario of ANNEX2_PLAN."""
    due = campaign.deadline(spec.deadline)
    person, pinyin = _PEOPLE[(index + 7) % len(_PEOPLE)]
    mobile: Any = _mobile(rng)
    typed: dict[str, Any] = {"name": person, "title": rng.choice(_TITLES), "office_phone": _landline(rng),
                             "mobile": mobile, "email": f"{pinyin}@163.com", "note": None}
    received = due - dt.timedelta(days=rng.randint(0, 6))
    verdict = Status.PASSED
    if scenario == "bracket_phone":
        typed["office_phone"] = "(0311) " + typed["office_phone"].removeprefix("0311-")
    elif scenario == "number_mobile":
        typed["mobile"] = int(mobile)
    elif scenario == "bad_mobile":  # one digit dropped
        typed["mobile"] = mobile[:-1]
        verdict = Status.RETURNED
    elif scenario == "no_email":
        typed["email"] = None
        typed["note"] = "单位暂无电子邮箱"
    elif scenario == "late":
        received = due + dt.timedelta(days=4)
    elif scenario not in ("clean", "superseded"):
        raise ValueError(f"unknown demo scenario {scenario!r}")
    ret = DemoReturn(spec.id, unit, received, _file_name(spec, unit, rng), typed, {}, verdict,
                     hour=rng.randint(8, 17))
    if scenario == "superseded":
        # A first, good return; three days later the unit names a new liaison officer.
        first = DemoReturn(spec.id, unit, received - dt.timedelta(days=3), template_name(spec, unit),
                           dict(typed), {}, Status.PASSED, hour=11, expect=Outcome.SUPERSEDED)
        new_person, new_pinyin = _PEOPLE[(index + 13) % len(_PEOPLE)]
        ret.typed.update(name=new_person, email=f"{new_pinyin}@163.com", note="联络员已调整")
        ret.name = template_name(spec, unit).removesuffix(".xlsx") + "（更换联络员）.xlsx"
        return [first, ret]
    return [ret]


def _stranger(spec: FormSpec, campaign: Campaign, rng: random.Random, counts: dict[str, int | None]) -> DemoReturn:
    """A unit not on the roster fills in the generic 附件1 it was forwarded."""
    reported = campaign.deadline(spec.deadline) - dt.timedelta(days=2)
    typed: dict[str, Any] = {"unit_name": STRANGER, "contact": "钱进", "phone": _landline(rng),
                             "report_date": reported, **counts}
    return DemoReturn(spec.id, None, reported, f"{STRANGER}{spec.annex}.xlsx", typed, counts, Status.RETURNED,
                      report_date=reported, generic=True, hour=14)


def build_plan(forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster, seed: int = SEED) -> Plan:
    """Every demo return, decided by ``seed`` alone."""
    if len(roster) < len(ANNEX1_PLAN):
        raise PipelineError(f"演示需要至少 {len(ANNEX1_PLAN)} 个单位的名录（如示例 units.csv），"
                            f"{roster.path} 只有 {len(roster)} 个单位。")
    rng = random.Random(seed)
    plan = Plan()
    annex2 = forms["annex2"]
    for index, unit in enumerate(roster):
        scenario = ANNEX2_PLAN[index] if index < len(ANNEX2_PLAN) else "clean"
        if scenario != "missing":
            plan.returns.extend(_annex2(annex2, campaign, unit, scenario, index, rng))
    annex1 = forms["annex1"]
    base = _clean_counts(annex1, rng, len(roster) + 1)
    for index, unit in enumerate(roster):
        scenario = ANNEX1_PLAN[index] if index < len(ANNEX1_PLAN) else "clean"
        if scenario != "missing":
            plan.returns.extend(_annex1(annex1, campaign, unit, scenario, index, rng, base[index]))
    plan.add(_stranger(annex1, campaign, rng, base[-1]))
    plan.returns.sort(key=lambda r: (r.received, r.hour, r.rel))
    return plan


# ----------------------------------------------------------------------------- writing the inbox


def _defined_cells(wb: Any) -> dict[str, tuple[str, str]]:
    cells: dict[str, tuple[str, str]] = {}
    for name, defined in wb.defined_names.items():
        destinations = list(defined.destinations)
        if len(destinations) == 1:
            sheet, ref = destinations[0]
            cells[name] = (sheet, ref.replace("$", ""))
    return cells


def _timestamp(ret: DemoReturn) -> float:
    return dt.datetime.combine(ret.received, dt.time(ret.hour, 17)).timestamp()


def write_return(ret: DemoReturn, inbox: Path, forms: Mapping[str, FormSpec], campaign: Campaign) -> Path:
    """Save one return into the inbox: the real template, typed into with openpyxl, dated by its arrival."""
    import openpyxl

    path = inbox / ret.rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if ret.copy_of is not None:
        shutil.copyfile(inbox / ret.copy_of.rel, path)
    elif ret.medium != "template":
        assert ret.unit is not None
        writer = write_word_form if ret.medium == "word" else write_own_sheet
        worded = forms[ret.form_id].for_campaign(campaign.year, campaign.theme, campaign.edition)
        writer(path, worded, ret.unit.name, ret.typed)
    else:
        spec = forms[ret.form_id]
        write_form(path, spec, campaign, FormContent(unit=None if ret.generic else ret.unit))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on features it does not keep
            wb = openpyxl.load_workbook(path)
        try:
            cells = _defined_cells(wb)
            for fid, value in ret.typed.items():
                if value is not None:
                    sheet, ref = cells[fid]
                    wb[sheet][ref].value = value
            wb.save(path)
        finally:
            wb.close()
    stamp = _timestamp(ret)
    os.utime(path, (stamp, stamp))
    return path


# ----------------------------------------------------------------------------- the answer key


def _on_time(ret: DemoReturn, campaign: Campaign, spec: FormSpec) -> str:
    sent = arrival_date(ret.rel, _timestamp(ret), ret.report_date)  # the rule the rollup applies: the dated folder
    return "是" if sent <= campaign.deadline(spec.deadline) else "否"


def build_truth(plan: Plan, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster) -> dict[str, Any]:
    """What the rollup must find, read off the returns the demo wrote: each file's declared outcome,
    and per unit and form the return its scenario meant to count (its verdict, numbers and timeliness)."""
    outcomes: dict[str, str] = {r.rel: r.expect for r in plan.returns}
    statuses: list[dict[str, Any]] = []
    counted: dict[str, dict[str, dict[str, int | None]]] = {form_id: {} for form_id in forms}
    for spec in forms.values():
        for unit in roster:
            mine = [r for r in plan.returns if r.form_id == spec.id and r.unit == unit and r.copy_of is None]
            chosen = [r for r in mine if r.expect == Outcome.ACCEPTED]
            if len(chosen) > 1:
                raise ValueError(f"demo plan counts two {spec.id} returns of {unit.code}")
            row: dict[str, Any] = {"unit_code": unit.code, "unit_name": unit.name, "form": spec.id,
                                   "status": Status.MISSING, "file": "", "on_time": ""}
            if mine:
                basis = chosen[0] if chosen else mine[-1]  # nothing counts: the last one sent (the plan is in arrival order)
                row.update(status=basis.verdict if chosen else Status.RETURNED, file=basis.rel,
                           on_time=_on_time(basis, campaign, spec))
                if chosen:
                    counted[spec.id][unit.code] = basis.counts
            statuses.append(row)
    stats = forms["annex1"]
    totals = {f.id: 0 for f in stats.fields if f.kind == "count"}
    for counts in counted["annex1"].values():
        for fid, value in counts.items():
            totals[fid] += value or 0
    return {
        "generated_by": WRITTEN_BY,
        "seed": SEED,
        "campaign_id": campaign.id,
        "files": dict(sorted(outcomes.items())),
        "outcomes": dict(sorted(Counter(outcomes.values()).items())),
        "status": statuses,
        "counts": {unit_code: {fid: v for fid, v in counts.items() if v is not None}
                   for unit_code, counts in counted["annex1"].items()},
        "totals": {"annex1": totals},
    }


# ----------------------------------------------------------------------------- demo folders only


def _files_below(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in names:
            yield Path(root) / name
        for name in dirs:
            if (Path(root) / name).is_symlink():
                yield Path(root) / name  # never descended into, never ours


def marker_path(folder: Path, whole: bool = False) -> Path:
    """Where the demo's marker of ``folder`` is: inside its outbox (``whole``), beside its inbox (``demo/inbox.demo``),
    so that the inbox holds nothing but what the units would send."""
    if whole:
        return folder / MARKER
    real = folder.resolve()
    return real.parent / f"{real.name}{MARKER}"


def _listed(folder: Path, whole: bool = False) -> set[str] | None:
    """The files a previous demo wrote into ``folder`` (from its marker), or None when it is not ours."""
    data = None
    for path in (marker_path(folder, whole), folder / MARKER):  # an inbox of an earlier version kept it inside
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            break
        except (OSError, ValueError):
            continue
    if not isinstance(data, dict) or data.get("written_by") != WRITTEN_BY or not isinstance(data.get("files"), list):
        return None
    files = {str(f) for f in data["files"]}
    if any(f.startswith("/") or ".." in f.split("/") for f in files):
        return None
    return files


def _stale_temporary(rel: str) -> bool:
    """A half-written file an interrupted run left behind (pipeline.store.atomic's hidden ``.tmp`` names)."""
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(".tmp")


def _claim(folder: Path, what: str, whole: bool = False) -> set[str]:
    """The previous demo's files in ``folder``; refuse a folder that holds anything else.

    ``whole``: once marked, everything in the folder is the demo's (its outbox, which only the
    program writes into); otherwise only the files its marker lists and stale temporary files.
    """
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise PipelineError(f"演示用的{what} {folder} 已存在且不是文件夹，请另行指定（--inbox/--outbox）。")
    present = sorted(p.relative_to(folder).as_posix() for p in _files_below(folder))
    if not present:
        return set()
    listed = _listed(folder, whole)
    foreign = [] if whole and listed is not None else [
        p for p in present if listed is None or (p != MARKER and p not in listed and not _stale_temporary(p))]
    if foreign:
        raise PipelineError(
            f"演示用的{what} {folder} 中已有不是演示程序生成的文件（如“{foreign[0]}”等 {len(foreign)} 个）。"
            f"为防止演示数据混入真实来件和汇总结果，演示已停止。请指定一个空文件夹（--inbox、--outbox），"
            f"或使用默认的 demo/ 目录。")
    return set(present)  # an earlier version's marker inside the inbox goes too


def _clear(folder: Path, files: set[str]) -> None:
    """Delete a previous demo's files and the folders they leave empty."""
    for rel in files:
        (folder / rel).unlink(missing_ok=True)
    for root, dirs, _ in os.walk(folder, topdown=False):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()


NOTE_LISTED = "演示程序生成的文件清单；重新运行演示时只删除这些文件。"
NOTE_WHOLE = "本文件夹是演示程序的输出目录，其中的文件都由本程序生成；重新运行演示时将全部清空。"


def _mark(folder: Path, files: Sequence[str], note: str = NOTE_LISTED, whole: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"written_by": WRITTEN_BY, "note": note, "files": sorted(files)}
    marker_path(folder, whole).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve() == folder.resolve() or folder.resolve() in path.resolve().parents


def _check_truth(path: Path, inbox: Path, outbox: Path) -> None:
    if _inside(path, inbox) or _inside(path, outbox):
        raise PipelineError(f"标准答案文件 {path} 不能放在来件目录或输出目录中，请用 --truth 另行指定。")
    if path.exists():
        try:
            ours = json.loads(path.read_text(encoding="utf-8")).get("generated_by") == WRITTEN_BY
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise PipelineError(f"{path} 已存在且不是演示程序写的标准答案，为免覆盖已停止。请用 --truth 另行指定。")


def run_demo(forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster, inbox: Path, outbox: Path,
             truth_path: Path, progress: Progress | None = None,
             say: Callable[[str], None] | None = None) -> list[str]:
    """Write the demo returns and materials, run the whole job on them, write the truth; return the lines to print.

    ``say`` gets each line as soon as it is known (the CLI prints them there, so that the line about
    the demo inbox comes before the progress bar of the rollup that reads it).
    """
    lines: list[str] = []

    def tell(*new: str) -> None:
        lines.extend(new)
        if say is not None:
            for line in new:
                say(line)

    from pipeline.job import rollup_to_outbox

    if _inside(inbox, outbox) or _inside(outbox, inbox):
        raise PipelineError(f"演示的来件目录 {inbox} 和输出目录 {outbox} 不能相同，也不能互相包含。")
    _check_truth(truth_path, inbox, outbox)
    old_in, old_out = _claim(inbox, "来件目录"), _claim(outbox, "输出目录", whole=True)
    plan = build_plan(forms, campaign, roster)  # a roster too small stops the demo before it writes anything
    samples = demo_materials(roster, campaign)  # 活动总结, photos, a video, an archive (pipeline.intake.materials)
    _clear(inbox, old_in)
    _clear(outbox, old_out)

    _mark(inbox, [r.rel for r in plan.returns] + [s.rel for s in samples])  # first: an interrupted run can be cleared
    for ret in plan.returns:
        write_return(ret, inbox, forms, campaign)
    for sample in samples:
        sample.write(inbox)
    senders = {form_id: len({r.unit.code for r in plan.returns if r.form_id == form_id and r.unit})
               for form_id in forms}
    tell(f"已在 {inbox} 生成演示来件 {len(plan.returns) + len(samples)} 个（报表 {len(plan.returns)} 个、"
         f"活动材料 {len(samples)} 个）：{len(roster)} 个单位中 {senders['annex1']} 个报送附件1、"
         f"{senders['annex2']} 个报送附件2，另有 1 个名录外单位；含自动更正、退回重报、重复文件、逾期、Word 原文和自制表格等常见情况。")
    _mark(outbox, [], NOTE_WHOLE, whole=True)
    tell(*rollup_to_outbox(inbox, outbox, forms, campaign, roster, "demo", progress))
    _mark(outbox, [p.relative_to(outbox).as_posix() for p in _files_below(outbox) if p.name != MARKER], NOTE_WHOLE,
          whole=True)

    truth = build_truth(plan, forms, campaign, roster)
    add_to_truth(truth, samples, roster)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(truth_path) as tmp:
        tmp.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    tell(f"演示的标准答案（应得的全县合计、各单位状态和各文件去向）：{truth_path}")
    return lines
