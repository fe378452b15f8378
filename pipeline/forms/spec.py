"""Load and check the declarative form specs in ``pipeline/forms/*.toml``.

The spec is the single source of truth: the template layout, the pandera schema,
the rollup columns and the rollup sentences are all derived from these objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from pipeline.errors import SpecError
from pipeline.model import Severity
from pipeline.settings.roster import Unit

FORMS_DIR = Path(__file__).parent

KINDS = ("count", "text", "person", "phone", "mobile", "email", "date", "unit")
UNITS = ("次", "场", "场次", "人次", "人", "篇", "个", "条", "家", "部", "张", "条次",
         # further measure words that notices of other campaigns print after a blank (pipeline.notice.blanks)
         "家次", "户次", "车次", "小时", "名", "项", "起", "处", "份", "辆", "所", "期", "块", "件", "户", "台", "套", "批", "幅", "本", "册",
         "天", "元", "")
CHECKS = ("second_ge_first", "first_zero_second_zero")

META_SHEET = "_meta"  # the very hidden sheet carrying a template's identity
NOTICE_SHEET = "审核意见"  # a feedback workbook's first sheet: the problems, so that the form keeps its cells
READ_MAP_SHEET = "读取对应"  # how a hand-made sheet was read, one row per label (rollup and feedback workbooks)
PROGRAM_SHEETS = (META_SHEET, NOTICE_SHEET, READ_MAP_SHEET)  # sheets the program adds beside the form: never read
MAX_COUNT = 1_000_000  # a count above this is not believable
MAX_TEXT = 2000  # characters in a free-text field
# Per kind of text field: the most characters accepted, and the input prompt the template shows.
TEXT_LIMITS: dict[str, tuple[int, str]] = {
    "phone": (20, "手机11位，或带区号的固定电话，如 0311-6627527。"),
    "mobile": (20, "请填写11位手机号码，如 13812345678。"),
    "email": (64, "请填写电子邮箱，如 name@example.com。"),
    "person": (20, "请填写姓名。"),
    "unit": (60, "请填写单位全称，与公章一致。"),
    "text": (MAX_TEXT, f"可填写文字，不超过{MAX_TEXT}字。"),
}

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# An Excel defined name must not look like a cell reference such as "ab12", nor like an
# R1C1 reference ("r", "c", "rc", "r1c1"): Excel (and xlsxwriter) reject those names.
_CELL_LIKE_RE = re.compile(r"^(?:[a-z]{1,3}[0-9]+|[rc]|r[0-9]*c[0-9]*|[rc][0-9]+[rc][0-9]+)$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
# The campaign's own words a 进展情况 sentence may use, filled from campaign.toml wherever a sentence is shown
# (汇总表, report, the demo's Word form): “参与“{theme}”网络知识竞赛”. Readers take any text in their place.
CAMPAIGN_WORDS = ("theme", "year", "edition")

_FORM_KEYS = {"id", "annex", "title", "sheet", "deadline", "roles", "rollup_sheet"}
_ROLE_KEYS = {"unit", "report_date", "contact", "summary"}
# The placeholders a cross-field rule's message may use (filled in by pipeline.checks.validate).
RULE_PLACEHOLDERS = frozenset({"first_label", "second_label", "first_value", "second_value"})
_FIELD_KEYS = {"id", "label", "kind", "unit", "required"}
_SECTION_KEYS = {"id", "title", "requirement", "sentence", "sentence_original", "fields"}
# Keys left out of the content version: they feed only the readers, not the issued template,
# so adding or correcting them must not mark the templates already sent out as outdated.
_UNVERSIONED_SECTION_KEYS = {"sentence_original"}
_RULE_KEYS = {"id", "title", "check", "severity", "message", "pairs"}
_TOP_KEYS = {"form", "header", "sections", "rules"}


@dataclass(frozen=True)
class Field:
    """One input blank of a form."""

    id: str
    label: str
    kind: str
    unit: str
    required: bool
    section: str  # section id, or "header"
    section_title: str

    @property
    def optional(self) -> bool:
        """A field whose absence from a sheet is no error: free text that is not required (典型案例)."""
        return self.kind == "text" and not self.required


@dataclass(frozen=True)
class Section:
    """One 活动项目 (or, for 附件2, the liaison row)."""

    id: str
    title: str
    requirement: str
    sentence: str
    fields: tuple[Field, ...]
    sentence_original: str = ""  # the notice's own wording, typos included ("" when not given)

    @property
    def wordings(self) -> tuple[str, ...]:
        """The distinct non-empty sentence wordings: the fixed one first, then the notice's original."""
        return tuple(dict.fromkeys(w for w in (self.sentence, self.sentence_original) if w))


@dataclass(frozen=True)
class Rule:
    """A cross-field rule applied to each listed (first, second) field pair."""

    id: str
    title: str  # the short Chinese name shown in the 规则 column
    check: str
    severity: Severity
    message: str
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Roles:
    """Which fields play a part the program relies on, so that no code names a field id."""

    unit: str  # the field naming the reporting unit (填报单位 / 单位名称)
    report_date: str = ""  # the 填报日期 field, when the form has one
    contact: tuple[str, ...] = ()  # fields a missing value of which means the return cannot be followed up
    summary: bool = False  # the written 活动总结 is sent together with this form


@dataclass(frozen=True)
class FormSpec:
    """A whole form: header fields, sections, rules and its content version."""

    id: str
    annex: str
    title: str
    sheet: str
    deadline: str
    rollup_sheet: str  # the name of a table form's sheet in the rollup workbook
    header: tuple[Field, ...]
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]
    roles: Roles
    version: str
    path: Path

    # Computed once per spec (a frozen dataclass: the cache lives in the instance's __dict__, and
    # dataclasses.replace makes a new instance): per-return loops over 10,000 returns ask for them.
    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Header fields first, then section fields in form order."""
        return self.header + self.body_fields

    @cached_property
    def body_fields(self) -> tuple[Field, ...]:
        """The fields of the sections (not the header)."""
        return tuple(f for s in self.sections for f in s.fields)

    @cached_property
    def _by_id(self) -> dict[str, Field]:
        return {f.id: f for f in reversed(self.fields)}  # reversed: the first field of an id wins, as before

    @property
    def has_sentences(self) -> bool:
        """True for a statistics form (附件1) whose sections carry 进展情况 sentences."""
        return any(s.sentence for s in self.sections)

    def field(self, field_id: str) -> Field:
        """The field with this id."""
        return self._by_id[field_id]

    def title_for(self, year: int) -> str:
        """The title with the campaign year filled in."""
        return self.title.replace("{year}", str(year))

    def for_campaign(self, year: int, theme: str, edition: str) -> FormSpec:
        """This form with the campaign's words (``{theme}``, ``{year}``, ``{edition}``) filled into its sentences."""
        return _with_words(self, year, theme, edition)


def fill_campaign_words(text: str, year: int, theme: str, edition: str) -> str:
    """``text`` with ``{theme}``, ``{year}`` and ``{edition}`` replaced by the campaign's words; field blanks kept."""
    words = {"theme": theme, "year": str(year), "edition": edition}
    return _PLACEHOLDER_RE.sub(lambda m: words.get(m.group(1), m.group(0)), text)


@cache
def _with_words(spec: FormSpec, year: int, theme: str, edition: str) -> FormSpec:
    sections = tuple(dataclasses.replace(
        s, sentence=fill_campaign_words(s.sentence, year, theme, edition),
        sentence_original=fill_campaign_words(s.sentence_original, year, theme, edition)) for s in spec.sections)
    return dataclasses.replace(spec, sections=sections)


_LEADING_NAME_RE = re.compile(r"^“[^”]*”")


def short_title(spec: FormSpec) -> str:
    """The title without its year and the campaign's quoted name: “{year}年“安全生产月”活动联络员表” → 活动联络员表."""
    return _LEADING_NAME_RE.sub("", spec.title.replace("{year}年", ""))


def template_name(spec: FormSpec, unit: Unit | None) -> str:
    """File name of a template: annex, title, and the unit code and name (or 通用)."""
    short = short_title(spec)
    suffix = f"{unit.code}_{unit.name}" if unit else "通用空白"
    return f"{spec.annex}_{short}_{suffix}.xlsx"


# Keys of [form] that tell the program how to use a form, not what the unit sees: changing them
# does not outdate templates already sent out.
_UNPRINTED_FORM_KEYS = ("roles", "rollup_sheet")


def _content_hash(raw: Mapping[str, Any]) -> str:
    """Hash of the parsed spec, so editing a comment or spacing (or a role) does not outdate issued templates."""
    form = {k: v for k, v in raw.get("form", {}).items() if k not in _UNPRINTED_FORM_KEYS}
    raw = {**raw, "form": form}
    sections = raw.get("sections")
    if isinstance(sections, list):
        raw = {**raw, "sections": [
            {k: v for k, v in s.items() if k not in _UNVERSIONED_SECTION_KEYS} if isinstance(s, dict) else s
            for s in sections
        ]}
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _fail(path: Path, key: str, why: str) -> SpecError:
    return SpecError(f"表单定义文件 {path} 中 {key} 有误：{why}")


def _check_keys(path: Path, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"未知的键“{unknown[0]}”，允许的键为：{'、'.join(sorted(allowed))}。")


def _str(path: Path, where: str, table: Mapping[str, Any], key: str, *, empty: bool = False) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise _fail(path, f"{where}.{key}", "缺少此项或不是文字。")
    if not empty and not value.strip():
        raise _fail(path, f"{where}.{key}", "不能为空。")
    return value


def _table_list(path: Path, where: str, value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(path, where, "应为 [[...]] 表格数组。")
    return value


def _field(path: Path, where: str, raw: Mapping[str, Any], section: str, title: str) -> Field:
    _check_keys(path, where, raw, _FIELD_KEYS)
    fid = _str(path, where, raw, "id")
    if not _ID_RE.match(fid) or _CELL_LIKE_RE.match(fid):
        raise _fail(path, f"{where}.id", f"“{fid}”不是合法的字段编号（小写英文字母开头，只含 a-z、0-9、_，且不能形如单元格地址）。")
    kind = _str(path, where, raw, "kind")
    if kind not in KINDS:
        raise _fail(path, f"{where}.kind", f"“{kind}”不是已知类型，可选：{'、'.join(KINDS)}。")
    unit = _str(path, where, raw, "unit", empty=True) if "unit" in raw else ""
    if unit not in UNITS:
        raise _fail(path, f"{where}.unit", f"“{unit}”不是已知计量单位，可选：{'、'.join(u for u in UNITS if u)}。")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise _fail(path, f"{where}.required", "应为 true 或 false。")
    return Field(fid, _str(path, where, raw, "label"), kind, unit, required, section, title)


def _section(path: Path, index: int, raw: Mapping[str, Any]) -> Section:
    where = f"sections[{index}]"
    _check_keys(path, where, raw, _SECTION_KEYS)
    sid = _str(path, where, raw, "id")
    title = _str(path, where, raw, "title")
    fields = tuple(
        _field(path, f"{where}.fields[{i}]", f, sid, title)
        for i, f in enumerate(_table_list(path, f"{where}.fields", raw.get("fields")))
    )
    if not fields:
        raise _fail(path, f"{where}.fields", "每个活动项目至少要有一个填报项。")
    sentence = _str(path, where, raw, "sentence", empty=True)
    original = _str(path, where, raw, "sentence_original", empty=True) if "sentence_original" in raw else ""
    if original and not sentence:
        raise _fail(path, f"{where}.sentence_original", "有原文语句（sentence_original）时也必须有 sentence。")
    for key, text in (("sentence", sentence), ("sentence_original", original)):
        if text:
            _check_sentence(path, f"{where}.{key}", text, fields)
    requirement = _str(path, where, raw, "requirement", empty=True)
    return Section(sid, title, requirement, sentence, fields, original)


def _check_sentence(path: Path, where: str, sentence: str, fields: tuple[Field, ...]) -> None:
    """Every placeholder names a field of the section, and every field appears exactly once, in order."""
    placeholders = [ph for ph in _PLACEHOLDER_RE.findall(sentence) if ph not in CAMPAIGN_WORDS]
    ids = [f.id for f in fields]
    for ph in placeholders:
        if ph not in ids:
            raise _fail(path, where, f"占位符“{{{ph}}}”没有对应的填报项（fields）。")
    key = where.rsplit(".", 1)[-1]
    section = where.rsplit(".", 1)[0]
    for fid in ids:
        if placeholders.count(fid) != 1:
            raise _fail(path, f"{section}.fields.{fid}", f"该填报项在进展情况语句（{key}）中应恰好出现一次。")
    if placeholders != ids:
        raise _fail(path, where, "占位符的顺序应与 fields 的顺序一致。")
    stray = _PLACEHOLDER_RE.sub("", sentence)
    if "{" in stray or "}" in stray:
        raise _fail(path, where, "语句中有不成对的花括号“{”或“}”。")


def _rule(path: Path, index: int, raw: Mapping[str, Any], fields: Mapping[str, Field]) -> Rule:
    where = f"rules[{index}]"
    _check_keys(path, where, raw, _RULE_KEYS)
    check = _str(path, where, raw, "check")
    if check not in CHECKS:
        raise _fail(path, f"{where}.check", f"“{check}”不是已知规则，可选：{'、'.join(CHECKS)}。")
    severity = _str(path, where, raw, "severity")
    if severity not in set(Severity):
        raise _fail(path, f"{where}.severity", "只能是“错误”或“警告”。")
    pairs_raw = raw.get("pairs")
    if not isinstance(pairs_raw, list) or not pairs_raw:
        raise _fail(path, f"{where}.pairs", "应为非空的字段编号对列表，如 [[\"a\", \"b\"]]。")
    pairs: list[tuple[str, str]] = []
    for pair in pairs_raw:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise _fail(path, f"{where}.pairs", f"{pair!r} 不是两个字段编号组成的一对。")
        for fid in pair:
            if fid not in fields:
                raise _fail(path, f"{where}.pairs.{fid}", "没有这个字段编号。")
            if fields[fid].kind != "count":
                raise _fail(path, f"{where}.pairs.{fid}", "交叉规则只能用于数量（count）字段。")
        pairs.append((pair[0], pair[1]))
    message = _str(path, where, raw, "message")
    for name in _PLACEHOLDER_RE.findall(message):
        if name not in RULE_PLACEHOLDERS:
            raise _fail(path, f"{where}.message", f"占位符“{{{name}}}”无法识别，可用的有：{'、'.join(sorted(RULE_PLACEHOLDERS))}。")
    return Rule(_str(path, where, raw, "id"), _str(path, where, raw, "title"), check, Severity(severity),
                message, tuple(pairs))


def _roles(path: Path, raw: Any, fields: Mapping[str, Field]) -> Roles:
    if not isinstance(raw, dict):
        raise _fail(path, "form.roles", "缺少 [form.roles] 表（至少写明 unit = 填报单位的字段编号）。")
    _check_keys(path, "form.roles", raw, _ROLE_KEYS)
    wanted = {"unit": ("unit",), "report_date": ("date",)}
    for key, kinds in wanted.items():
        fid = raw.get(key, "")
        if (key == "unit" or fid) and (not isinstance(fid, str) or fid not in fields or fields[fid].kind not in kinds):
            raise _fail(path, f"form.roles.{key}", f"应为本表中类型为 {kinds[0]} 的字段编号，现为“{fid}”。")
    contact = raw.get("contact", [])
    if not isinstance(contact, list) or not all(isinstance(c, str) and c in fields for c in contact):
        raise _fail(path, "form.roles.contact", f"应为本表字段编号的列表，现为 {contact!r}。")
    summary = raw.get("summary", False)
    if not isinstance(summary, bool):
        raise _fail(path, "form.roles.summary", "应为 true 或 false。")
    return Roles(raw["unit"], raw.get("report_date", ""), tuple(contact), summary)


def load_spec(path: Path) -> FormSpec:
    """Load one form spec file, raising :class:`SpecError` with the file and key on any problem."""
    try:
        data_bytes = path.read_bytes()
        raw = tomllib.loads(data_bytes.decode("utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"找不到表单定义文件 {path}。") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"表单定义文件 {path} 不是合法的 TOML：{exc}") from exc
    _check_keys(path, "(顶层)", raw, _TOP_KEYS)
    form = raw.get("form")
    if not isinstance(form, dict):
        raise _fail(path, "form", "缺少 [form] 表。")
    _check_keys(path, "form", form, _FORM_KEYS)
    header = tuple(
        _field(path, f"header[{i}]", h, "header", "表头")
        for i, h in enumerate(_table_list(path, "header", raw.get("header")))
    )
    sections = tuple(_section(path, i, s) for i, s in enumerate(_table_list(path, "sections", raw.get("sections"))))
    all_fields = header + tuple(f for s in sections for f in s.fields)
    seen: dict[str, Field] = {}
    labels: set[str] = set()
    for f in all_fields:
        if f.id in seen:
            raise _fail(path, f.id, f"字段编号“{f.id}”重复。")
        if f.label in labels:
            raise _fail(path, f.id, f"字段名称“{f.label}”重复，汇总表的列名必须唯一。")
        seen[f.id] = f
        labels.add(f.label)
    section_ids = [s.id for s in sections]
    if len(set(section_ids)) != len(section_ids):
        raise _fail(path, "sections.id", "活动项目编号重复。")
    rules = tuple(_rule(path, i, r, seen) for i, r in enumerate(_table_list(path, "rules", raw.get("rules"))))
    return FormSpec(
        id=_str(path, "form", form, "id"),
        annex=_str(path, "form", form, "annex"),
        title=_str(path, "form", form, "title"),
        sheet=_str(path, "form", form, "sheet"),
        deadline=_str(path, "form", form, "deadline"),
        rollup_sheet=_str(path, "form", form, "rollup_sheet") if "rollup_sheet" in form else _str(path, "form", form, "sheet"),
        header=header,
        sections=sections,
        rules=rules,
        roles=_roles(path, form.get("roles"), seen),
        version=_content_hash(raw),
        path=path,
    )


@cache
def _load_cached(path: Path) -> FormSpec:
    return load_spec(path)


def load_forms(forms_dir: Path = FORMS_DIR) -> dict[str, FormSpec]:
    """Load every form spec (``*.toml``) of a folder, keyed by form id, in file-name order."""
    forms: dict[str, FormSpec] = {}
    for path in sorted(forms_dir.glob("*.toml")):
        spec = _load_cached(path)
        if spec.id != path.stem:
            raise _fail(spec.path, "form.id", f"应为“{path.stem}”，与文件名一致。")
        forms[spec.id] = spec
    if not forms:
        raise SpecError(f"表单定义目录 {forms_dir} 中没有任何 .toml 表单定义文件。")
    if sum(f.roles.summary for f in forms.values()) > 1:
        raise SpecError(f"表单定义目录 {forms_dir} 中有多张表写了 roles.summary = true，活动总结只能随一张表报送。")
    return forms
