"""The 活动总结 draft: the county's figures poured into the .docx template (docxtpl, Jinja2 tags in Word).

The template is ``活动总结模板.docx`` beside ``campaign.toml`` when there is one, else the program's own
(:mod:`pipeline.report.default_template`). A tag the clerk broke is reported with the paragraph it is in.
"""

from __future__ import annotations

import re
import traceback
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from docx.image.exceptions import InvalidImageStreamError, UnexpectedEndOfFileError, UnrecognizedImageError
from docx.image.image import Image
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from pipeline.errors import ReportError
from pipeline.outputs.limits import clip
from pipeline.report.default_template import DEFAULT_TEMPLATE, TEMPLATE_NAME
from pipeline.report.figures import Figures, Photo, fill_blanks
from pipeline.report.numbers import change, chinese_date, grouped, ordinal, percent, wan
from pipeline.report.package import document_time, docx_bytes, stamp_docx
from pipeline.settings.campaign import Campaign

CASE_CHARS = 300  # characters of one 典型案例 in the 总结; the whole text is in the rollup's 典型案例 sheet
CASE_CUT = "……（全文见汇总表“典型案例”工作表）"
PHOTO_BOX = (Mm(140), Mm(95))  # the largest a photo is shown (width, height)
_DOCXTPL_TAG = re.compile(r"\{([{%])(?:p|r|tr|tc)\s")
_TAG = re.compile(r"\{[{%].*?[}%]\}")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
_BLOCK = re.compile(r"\{%-?\s*(for|if|endfor|endif)\b")


def template_for(campaign: Campaign) -> Path:
    """The clerk's template beside ``campaign.toml`` when there is one, else the default."""
    own = campaign.path.parent / TEMPLATE_NAME
    return own if own.is_file() else DEFAULT_TEMPLATE


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the template: sandboxed, an unknown name is an error, with the number filters."""
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
    env.filters.update(num=_number(grouped), wan=_number(wan), change=change)
    return env


def _number(fmt: Callable[[int], str]) -> Callable[[Any], str]:
    def apply(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise jinja2.TemplateRuntimeError(f"“{value}”不是数字")
        return fmt(value)
    return apply


def _sentence(sentence: str, totals: Mapping[str, int], cases: int) -> str:
    # A free-text blank (典型案例具体为（…）) says how many there are; the cases follow in their own part.
    text = fill_blanks(sentence, lambda fid: grouped(totals[fid]) if fid in totals
                       else (f"共{cases}个（见下文）" if cases else "无"), brackets=False)
    return text.rstrip("；;，, ") + ("" if text.endswith("。") else "。")


def context(fig: Figures, image: Callable[[Photo], Any], photos: bool = True) -> dict[str, Any]:
    """The names the template may use (listed in the README)."""
    c = fig.rollup.campaign
    r = fig.rates
    sections = [{
        "number": ordinal(i), "title": s.section.title, "requirement": s.section.requirement,
        "sentence": _sentence(s.section.sentence, s.totals, s.cases), "totals": dict(s.totals), "cases": s.cases,
        "leaders": [{"name": u.name, "value": u.value, "unit": u.unit} for u in s.leaders],
        "change": s.change, "new": s.new,
    } for i, s in enumerate(fig.sections, 1)]
    return {
        "county": c.county, "bureau": c.bureau, "section": c.section, "year": c.year, "name": c.name, "edition": c.edition,
        "theme": c.theme, "start": chinese_date(c.start), "end": chinese_date(c.end),
        "report_date": chinese_date(fig.report_date), "annex": fig.spec.annex,
        "units": {"due": r.due, "sent": r.sent, "accepted": r.accepted, "on_time": r.on_time},
        "rates": {"sent": percent(r.sent, r.due), "accepted": percent(r.accepted, r.due),
                  "on_time": percent(r.on_time, r.due)},
        "totals": dict(fig.totals), "sections": sections, "cases_number": ordinal(len(sections) + 1),
        "cases": [{"unit": k.unit, "label": k.label, "text": clip(k.text, CASE_CHARS, CASE_CUT)} for k in fig.cases],
        "missing": list(fig.missing), "late": list(fig.late), "returned": list(fig.returned),
        "unchecked": [{"unit": u, "read_as": how} for u, how in fig.unchecked],
        "photos": [{"image": image(p), "unit": p.unit} for p in fig.photos] if photos else [],
        "compare": fig.compared,
    }


def _open(path: Path) -> DocxTemplate:
    try:
        tpl = DocxTemplate(str(path))
        tpl.init_docx()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise ReportError(f"活动总结模板 {path} 不是可以读取的 Word 文件（.docx）。请用 Word 或 WPS 打开后"
                          f"“另存为” Word 文档（*.docx），或删除该文件以使用程序自带的模板。") from exc
    return tpl


def _paragraphs(tpl: DocxTemplate) -> list[str]:
    """The text of every paragraph of the template's body (tables included), in document order."""
    body = tpl.docx.element.body
    return ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in body.iter(qn("w:p"))]


def _plain(text: str) -> str:
    """A paragraph as Jinja sees it: docxtpl's {%p …%} as {% … %}, Word's curly quotes inside tags straight."""
    text = _DOCXTPL_TAG.sub(lambda m: "{" + m.group(1) + " ", text)
    return _TAG.sub(lambda m: m.group(0).translate(_SMART_QUOTES), text)


def _unclosed(paragraphs: list[str]) -> int | None:
    """The paragraph (0-based) of a for/if tag that is never closed, if any."""
    stack: list[tuple[str, int]] = []
    for index, text in enumerate(paragraphs):
        for kind in _BLOCK.findall(text):
            if kind in ("for", "if"):
                stack.append((kind, index))
            elif stack and stack[-1][0] == kind.removeprefix("end"):
                stack.pop()
    return stack[-1][1] if stack else None


def _where(path: Path, paragraphs: list[str], index: int) -> str:
    text = paragraphs[index] if 0 <= index < len(paragraphs) else ""
    shown = clip(text.strip(), 80, "……")
    return f"活动总结模板 {path} 第{index + 1}段“{shown}”"


def _template_line(exc: BaseException) -> int | None:
    """The template line Jinja's rewritten traceback points at (1-based)."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == "<template>"]
    return lines[-1] if lines and lines[-1] is not None else None


_FIX = "请在 Word 或 WPS 中改正该处的标签（{{ … }} 或 {% … %}），或删除该模板以使用程序自带的模板。"


def check_template(path: Path, paragraphs: list[str], env: jinja2.Environment, values: Mapping[str, Any]) -> None:
    """Compile and render the template's text paragraph by paragraph, so that an error names its paragraph."""
    plain = [_plain(p) for p in paragraphs]
    source = "\n".join(plain)
    try:
        compiled = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        message = exc.message or ""
        if "looking for the following tags" in message or "Unexpected end of template" in message:
            index = _unclosed(plain)
            at = _where(path, paragraphs, index if index is not None else (exc.lineno or 1) - 1)
            raise ReportError(f"{at}中的 for 或 if 标签没有对应的结束标签（{{%p endfor %}} 或 {{%p endif %}}）。{_FIX}") from None
        tags = _TAG.findall(paragraphs[(exc.lineno or 1) - 1]) if 0 < (exc.lineno or 0) <= len(paragraphs) else []
        named = f"标签“{tags[0]}”" if tags else "标签"
        raise ReportError(f"{_where(path, paragraphs, (exc.lineno or 1) - 1)}中的{named}写法有误"
                          f"（花括号或百分号不成对、多了结束标签、或名称中有空格等）。{_FIX}") from None
    try:
        compiled.render(values)
    except jinja2.UndefinedError as exc:
        line = _template_line(exc)
        match = _UNDEFINED.search(exc.message or "")
        name = next((g for g in match.groups() if g), "") if match else ""
        at = _where(path, paragraphs, line - 1) if line else f"活动总结模板 {path}"
        known = "、".join(sorted(values))
        raise ReportError(f"{at}中的名称“{name}”无法识别。可用的名称有：{known}（含义见 README）。{_FIX}") from None
    except (jinja2.TemplateError, TypeError, ValueError) as exc:
        line = _template_line(exc)
        at = _where(path, paragraphs, line - 1) if line else f"活动总结模板 {path}"
        reason = str(exc) if isinstance(exc, jinja2.TemplateRuntimeError) and not str(exc).isascii() else "无法计算"
        raise ReportError(f"{at}中的标签无法生成内容（{reason}）。{_FIX}") from None


def _fitted(tpl: DocxTemplate, photo: Photo) -> InlineImage | str:
    try:
        picture = Image.from_file(str(photo.path))
    except (UnrecognizedImageError, InvalidImageStreamError, UnexpectedEndOfFileError, OSError, ZeroDivisionError):
        return "（图片无法读取）"
    width, height = picture.width, picture.height  # EMU at the image's own resolution
    scale = min(PHOTO_BOX[0] / width, PHOTO_BOX[1] / height) if width and height else 1.0
    return InlineImage(tpl, str(photo.path), width=int(width * scale), height=int(height * scale))


def render_summary(fig: Figures, template: Path, photos: bool = True) -> bytes:
    """The 总结 draft's bytes; :class:`ReportError` naming the paragraph when the template is broken."""
    tpl = _open(template)
    env = environment()
    check_template(template, _paragraphs(tpl), env, context(fig, lambda p: "[图片]", photos))
    try:
        tpl.render(context(fig, lambda p: _fitted(tpl, p), photos), env, autoescape=True)
    except (jinja2.TemplateError, etree.XMLSyntaxError, ValueError, KeyError) as exc:
        raise ReportError(f"活动总结模板 {template} 中的段落级标签（{{%p … %}}）放置有误，生成的文档结构不完整。"
                          f"每个 {{%p … %}} 标签应独占一段。{_FIX}") from exc
    document = tpl.docx
    c = fig.rollup.campaign
    stamp_docx(document, document_time(fig.report_date), c.bureau, f"{c.bureau}{c.year}年“{c.name}”活动总结")
    return docx_bytes(document)


def summary_name(campaign: Campaign) -> str:
    """File name of the 总结 draft."""
    return f"{campaign.county}{campaign.year}年“{campaign.name}”活动总结（草稿）.docx"

