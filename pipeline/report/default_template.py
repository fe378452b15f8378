"""The default 活动总结 template: a normal Word file with docxtpl (Jinja2) tags, built here reproducibly.

The committed ``templates/活动总结模板.docx`` is this module's output; ``python -m pipeline.report.default_template``
writes it again (a test checks that the two agree). A clerk changes the wording by editing a copy in Word or
WPS and putting it beside ``campaign.toml``; the names the tags may use are listed in the README.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import docx
from docx.document import Document

from pipeline.report.officedoc import (
    STYLE_BODY,
    STYLE_CAPTION,
    STYLE_FILL_IN,
    STYLE_HEADING1,
    STYLE_HEADING2,
    STYLE_PICTURE,
    STYLE_SIGNATURE,
    STYLE_TITLE,
    declare_fonts,
    official_styles,
    page_numbers,
    page_setup,
)
from pipeline.report.package import docx_bytes, stamp_docx
from pipeline.store.atomic import write_bytes_atomic

TEMPLATE_NAME = "活动总结模板.docx"
DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / TEMPLATE_NAME
BUILT = dt.datetime(2023, 5, 31)  # a fixed time for the template's own properties

_LEADERS = ("{% if s.leaders %}其中，{% for u in s.leaders %}{{ u.name }}（{{ u.value | num }}{{ u.unit }}）"
            "{% if not loop.last %}、{% endif %}{% endfor %}参与较多。{% endif %}")
_CHANGE = "{% if s.change %}参与人次同比{{ s.change }}。{% elif s.new %}本项为今年新增，无上年同期数据。{% endif %}"

# (style, text) in document order; “{%p … %}” paragraphs are docxtpl's paragraph-level tags.
PARAGRAPHS: tuple[tuple[str, str], ...] = (
    (STYLE_TITLE, "{{ bureau }}{{ year }}年“{{ name }}”活动总结"),
    (STYLE_BODY, "按照上级关于开展{{ edition }}活动的部署，{{ bureau }}于{{ start }}至{{ end }}在全县交通运输行业"
                 "组织开展了以“{{ theme }}”为主题的{{ name }}活动。现将活动开展情况总结如下。"),
    (STYLE_HEADING1, "一、基本情况"),
    (STYLE_BODY, "本次活动全县交通运输行业应报送活动情况统计表的单位{{ units.due }}个。截至{{ report_date }}，"
                 "已有{{ units.sent }}个单位报送，报送率{{ rates.sent }}；其中通过审核、计入汇总的{{ units.accepted }}个，"
                 "合格率{{ rates.accepted }}；按时报送并计入汇总的{{ units.on_time }}个，按时率{{ rates.on_time }}。"),
    (STYLE_HEADING1, "二、主要做法和成效"),
    (STYLE_BODY, "{%p for s in sections %}"),
    (STYLE_HEADING2, "（{{ s.number }}）{{ s.title }}"),
    (STYLE_BODY, "{{ s.sentence }}" + _LEADERS + _CHANGE),
    (STYLE_BODY, "{%p endfor %}"),
    (STYLE_BODY, "{%p if cases %}"),
    (STYLE_HEADING2, "（{{ cases_number }}）典型案例"),
    (STYLE_BODY, "各单位共报送典型案例{{ cases | length }}个，逐一列出如下。"),
    (STYLE_BODY, "{%p for c in cases %}"),
    (STYLE_BODY, "{{ loop.index }}．{{ c.unit }}：{{ c.text }}"),
    (STYLE_BODY, "{%p endfor %}"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_HEADING1, "三、存在的问题"),
    (STYLE_BODY, "{%p if missing %}"),
    (STYLE_BODY, "未报送活动情况统计表的单位（{{ missing | length }}个）：{{ missing | join('、') }}。"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_BODY, "{%p if late %}"),
    (STYLE_BODY, "逾期报送的单位（{{ late | length }}个）：{{ late | join('、') }}。"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_BODY, "{%p if returned %}"),
    (STYLE_BODY, "最新来件被退回、尚未重新报送合格的单位（{{ returned | length }}个）：{{ returned | join('、') }}。"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_BODY, "{%p if unchecked %}"),
    (STYLE_BODY, "以下单位的数据不是从下发的模板中读取的，请逐项核对：{% for u in unchecked %}{{ u.unit }}"
                 "（{{ u.read_as }}）{% if not loop.last %}、{% endif %}{% endfor %}。"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_BODY, "{%p if not (missing or late or returned or unchecked) %}"),
    (STYLE_BODY, "各单位均已按时报送，数据均从下发的模板中读取。"),
    (STYLE_BODY, "{%p endif %}"),
    (STYLE_HEADING1, "四、下一步工作打算"),
    (STYLE_FILL_IN, "【请填写：下一步工作打算。此段由局安全股根据实际情况撰写，程序不代为填写，定稿前删去本括号内的文字。】"),
    (STYLE_BODY, ""),
    (STYLE_SIGNATURE, "{{ bureau }}"),
    (STYLE_SIGNATURE, "{{ report_date }}"),
    (STYLE_BODY, "{%p if photos %}"),
    (STYLE_HEADING1, "附：活动图片"),
    (STYLE_BODY, "{%p for p in photos %}"),
    (STYLE_PICTURE, "{{ p.image }}"),
    (STYLE_CAPTION, "图{{ loop.index }}　{{ p.unit }}"),
    (STYLE_BODY, "{%p endfor %}"),
    (STYLE_BODY, "{%p endif %}"),
)
PHOTO_HEADING = "附：活动图片"


def build_template(paragraphs: tuple[tuple[str, str], ...] = PARAGRAPHS) -> Document:
    """The default template (or one with other ``paragraphs`` of (style, text)) as a python-docx document."""
    document = docx.Document()
    page_setup(document)
    official_styles(document)
    page_numbers(document)
    declare_fonts(document)
    for style, text in paragraphs:
        paragraph = document.add_paragraph(text, style=document.styles[style])
        if text == PHOTO_HEADING:  # the photos start on a page of their own
            paragraph.paragraph_format.page_break_before = True
    stamp_docx(document, BUILT, "局安全股", "活动总结模板")
    return document


def template_bytes() -> bytes:
    """The default template's bytes, the same on every run."""
    return docx_bytes(build_template())


def main() -> int:
    """Write the default template into the package's ``templates`` folder."""
    write_bytes_atomic(DEFAULT_TEMPLATE, template_bytes())
    print(f"已写出 {DEFAULT_TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
