"""Read one returned workbook: identify form, campaign and unit, pull the raw field values,
and compare what came back with the template it was made from.

:func:`read_return` is the one entry point for a file from inbox/: it applies the guards
(:mod:`pipeline.safety.guards`), reads the workbook under a time limit and normalises the values;
it never raises for a bad file, which instead gets an 错误 finding and the outcome
``unsupported``. Files are only ever opened for reading.

Only a bounded grid of each sheet (``max_rows`` x ``max_columns`` of campaign.toml) is held:
cells are streamed from the sheet XML, so a huge declared dimension, cells far outside the
grid or a huge merged range never make the reader allocate for them. An .xlsx is read with
openpyxl's read-only machinery, a legacy .xls with xlrd; both become a :class:`Book`.

Fields are located by, in order: the template's ``_meta`` plus its defined names, defined
names alone (a copied sheet keeps them), then the printed labels. Sheet protection is not
trusted: the returned sheet is compared with the template layout and each difference
becomes a 警告 (or an 错误 when a value cannot be found).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipeline.forms.spec import FormSpec
from pipeline.model import Outcome, RawCell, Severity, Submission
from pipeline.safety.badbytes import chain, describe, is_bad_bytes, technical
from pipeline.safety.guards import GuardError, check_package, check_size
from pipeline.safety.sniff import WORKBOOK, XLS, Sniffed
from pipeline.settings.campaign import Campaign
from pipeline.settings.roster import Roster
from pipeline.units.identity import check_identity
from pipeline.values.normalise import normalise_submission
from pipeline.workbook.book import Book, cell_address, grid_pos, load_xls, load_xlsx
from pipeline.workbook.calabook import FORMAT_NAMES, load_other
from pipeline.workbook.calabook import KINDS as OTHER_KINDS
from pipeline.workbook.handmade import complete, fill_submission, read_handmade
from pipeline.workbook.locate import identify_form, layout_of, locate_fields
from pipeline.workbook.readas import HANDMADE, TEMPLATE, workbook_read_as
from pipeline.workbook.tamper import (
    layout_findings,
    merge_findings,
    missing_field_findings,
    package_findings,
    sheet_findings,
)

if TYPE_CHECKING:
    pass

_AGAIN = "请用 WPS 或 Excel 打开下发的模板重新填写、保存为 .xlsx 后发送。"


def read_book(sub: Submission, book: Book, forms: Mapping[str, FormSpec], campaign: Campaign,
              roster: Roster) -> FormSpec | None:
    """Fill ``sub`` from a loaded book: form, unit, raw cell values and tamper findings."""
    package_findings(sub, book)
    if book.source == "xls":
        sub.add(Severity.WARNING, "旧版格式", "文件是旧版 Excel 97-2003 格式（.xls），已尽量读取，请核对汇总结果；"
                "今后请直接在下发的 .xlsx 模板上填写后发回，不要另存为其他格式。")
    sub.meta = book.meta
    spec, how = identify_form(book, sub.meta, forms, campaign)
    if how in ("", "labels"):
        # Not plainly our template: a sheet the unit made or retyped is read by its texts instead.
        hand = _handmade(sub, book, forms, campaign, roster, spec)
        if hand is not None:
            return hand
    sub.read_as = workbook_read_as(book, TEMPLATE)
    if spec is None:
        sub.add(Severity.ERROR, "无法识别表格", "文件中找不到附件1或附件2的填报内容。请使用下发的模板填写，不要改动表格结构。")
        return None
    sub.form_id, sub.located_by = spec.id, how
    located, by_name, form = locate_fields(book, spec, campaign)
    if form is not None:
        sub.sheet = form.title
    if how != "meta" and located:
        basis = "单元格名称" if how == "names" else "表中文字"
        sub.add(Severity.WARNING, "无模板标识", f"该文件不是直接在下发的模板上填写的（缺少模板标识），已按{basis}定位各填报项，"
                "请核对汇总结果；今后请直接使用下发的模板。")
    raw = sub.raw
    for fid, (grid, row, col) in located.items():
        pos = (row, col)
        raw[fid] = RawCell(grid.cells.get(pos), cell_address(row, col), grid.formulas.get(pos))
    missing_field_findings(sub, spec, located, how)
    current = check_identity(sub, spec, campaign, roster)
    if form is not None:
        sheet_findings(sub, book, spec, form, campaign.limits)
        merge_findings(sub, spec, form, located, campaign.limits)
        if current and how in ("meta", "names"):
            layout_findings(sub, spec, campaign, form, by_name, how)
    return spec


def _handmade(sub: Submission, book: Book, forms: Mapping[str, FormSpec], campaign: Campaign, roster: Roster,
              spec: FormSpec | None) -> FormSpec | None:
    """Read ``book`` as a hand-made sheet when the template's labels do not place every item; None otherwise."""
    if spec is not None:
        located, _, _ = locate_fields(book, spec, campaign)
        layout = layout_of(spec, campaign.year)
        in_place = sum((row, col) == grid_pos(layout.input_for(fid)) for fid, (_, row, col) in located.items())
        if complete(spec, located) and in_place * 5 >= len(located) * 4:
            return None  # a close copy of the template: its items sit where the template has them
    hand = read_handmade(book, forms)
    if hand is None:
        return None
    fill_submission(sub, hand)
    sub.read_as = workbook_read_as(book, HANDMADE)
    check_identity(sub, hand.spec, campaign, roster)
    return hand.spec


def read_workbook(sub: Submission, forms: Mapping[str, FormSpec], campaign: Campaign,
                  roster: Roster, sniffed: Sniffed | None = None) -> FormSpec | None:
    """Load ``sub.path`` (xlsx, xlsm or xls) within the guards and fill ``sub``; raises on a broken file."""
    limits = campaign.limits
    if sniffed is not None and sniffed.kind == XLS:
        book = load_xls(sub.path, limits, sniffed.streams)
    elif sniffed is not None and sniffed.kind in OTHER_KINDS:
        # .ods and .xlsb are zip packages: the same caps on parts and sizes apply before anything is inflated.
        package = None if sniffed.kind == "et" else check_package(sub.path, limits)
        book = load_other(sub.path, sniffed.kind, limits, sniffed.streams)
        book.package = package
    else:
        from pipeline.program import fast_reader_enabled
        from pipeline.workbook.fastread import load_xlsx_fast

        # The bytes the sniffer read, when it kept them: the file is read from disk once.
        package = check_package(sub.path if sniffed is None or sniffed.content is None else sniffed.content, limits)
        fast = load_xlsx_fast(sub.path, package, limits) if sniffed is not None and sniffed.kind == WORKBOOK \
            and fast_reader_enabled() else None
        book = fast or load_xlsx(sub.path, limits)
        book.package = package
    from pipeline.workbook.sheets import form_sheets, split_sheets

    parts = form_sheets(book, forms, campaign)  # [] unless two sheets or more hold a form
    if parts:
        split_sheets(sub, book, parts, forms, campaign, roster, read_book)
        return None
    return read_book(sub, book, forms, campaign, roster)


def _unsupported(sub: Submission, rule: str, message: str) -> None:
    """Drop whatever was half read and record why the file cannot be used."""
    sub.form_id, sub.unit, sub.located_by, sub.sheet, sub.read_as = None, None, "", "", ""
    sub.raw, sub.values, sub.meta, sub.findings = {}, {}, {}, []
    sub.add(Severity.ERROR, rule, message)
    sub.outcome = Outcome.UNSUPPORTED


# The libraries (pipeline.safety.badbytes) that parse a returned workbook's bytes.
_READER_LIBRARIES = ("zip", "compression", "xml", "openpyxl", "xlrd", "calamine", "ole", "text", "size")


def is_file_fault(exc: BaseException, sniffed: Sniffed) -> bool:
    """Whether ``exc`` is an expected fault of the file being read, not a fault of this program.

    Expected: what the spreadsheet readers raise for broken, encrypted, unsafe or foreign bytes
    (listed per library in :mod:`pipeline.safety.badbytes`), or a zip-level password.
    An exception raised in the pipeline's own code (AttributeError, KeyError, …) is a program error.
    """
    if is_bad_bytes(exc, _READER_LIBRARIES):
        return True
    return any(isinstance(e, RuntimeError) and "encrypted" in str(e) for e in chain(exc))


def _describe(exc: Exception, sniffed: Sniffed) -> tuple[str, str]:
    """The rule and Chinese message for an exception raised while reading a file."""
    import zipfile
    import zlib

    from defusedxml import DefusedXmlException

    causes = chain(exc)
    if any(isinstance(e, DefusedXmlException) for e in causes):
        return "不安全内容", ("文件中含有 XML 实体或外部引用等不安全内容，正常的报表不会有这些内容，"
                          "可能是被篡改或恶意构造的文件，已拒绝读取。" + _AGAIN)
    if any(isinstance(e, MemoryError) for e in causes):
        return "内容过多", "文件内容过多，超出了程序能处理的范围，已拒绝读取。" + _AGAIN
    if sniffed.kind in FORMAT_NAMES and sniffed.kind != XLS:
        return "无法读取", (f"文件是 {FORMAT_NAMES[sniffed.kind]} 格式的表格，但无法读取（{describe(exc)}）。"
                        "请在 WPS 或 Excel 中打开，另存为“Excel 工作簿(*.xlsx)”后重新发送。")
    if sniffed.kind == XLS:
        if "encrypt" in str(exc).lower():
            return "有打开密码", "文件设置了打开密码，程序无法读取。请取消密码后重新发送。"
        return "无法读取", (f"文件是旧版 Excel 97-2003（.xls）或 WPS 格式，但无法读取（{describe(exc)}）。"
                        "请在 WPS 或 Excel 中打开，另存为“Excel 工作簿(*.xlsx)”后重新发送。")
    if any(isinstance(e, RuntimeError) and "encrypted" in str(e) for e in causes):  # a zip-level password
        return "有打开密码", ("文件中的内容设置了密码，程序无法读取。"
                          "请取消密码，另存为“Excel 工作簿(*.xlsx)”后重新发送。")
    if any(isinstance(e, zipfile.BadZipFile | zlib.error | EOFError) for e in causes):
        return "文件损坏", f"文件已损坏或不完整（{describe(exc)}），可能是下载或发送中断。请重新保存后再发送一次。"
    return "无法读取", f"文件无法作为 Excel 工作簿打开（{describe(exc)}）。" + _AGAIN


def read_return(sub: Submission, sniffed: Sniffed, forms: Mapping[str, FormSpec], campaign: Campaign,
                roster: Roster) -> FormSpec | None:
    """Guard, read and normalise one returned file into ``sub``; never raises for a bad file.

    A file the reader cannot use gets one 错误 finding saying why and what to do, and the
    outcome ``unsupported``; its bytes in inbox/ are never touched.
    """
    limits = campaign.limits
    sub.kind = sniffed.kind
    if not sniffed.readable:
        _unsupported(sub, sniffed.rule, sniffed.message)
        return None
    if not sub.sha256:
        _unsupported(sub, "无法读取", "文件无法读取（可能没有读取权限或已被移走）。请检查该文件，或请单位重新发送。")
        return None
    try:  # the time limit: pipeline.intake.workers kills the reading process
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (e.g. unknown extensions); they do not affect values.
            warnings.simplefilter("ignore")
            check_size(sub.size, limits)
            spec = read_workbook(sub, forms, campaign, roster, sniffed)
            if spec is not None:
                normalise_submission(sub, spec, campaign.year)
            return spec
    except GuardError as exc:
        _unsupported(sub, exc.rule, exc.message)
    except RecursionError:
        _unsupported(sub, "内容过多", "文件结构嵌套过深，不像是正常的报表，已拒绝读取。" + _AGAIN)
    except Exception as exc:  # one broken file must never stop the batch
        if not is_file_fault(exc, sniffed):
            raise  # our bug or this computer's (a full disk): pipeline.intake.batch.parse_file records it
        sub.details.append(technical(exc))
        _unsupported(sub, *_describe(exc, sniffed))
    return None

