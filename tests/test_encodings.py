"""Files as Excel and Notepad save them on Chinese Windows: UTF-8 with or without BOM, GBK, GB18030, UTF-16 text."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.settings.campaign import Campaign, load_campaign
from pipeline.settings.roster import Roster, load_roster
from pipeline.settings.textfile import UndecodableTextError, decode, delimiter

REPO = Path(__file__).resolve().parents[1]
UNITS_TEXT = (REPO / "units.csv").read_text(encoding="utf-8")
# A name with 𠮷, which GB18030 has and GBK has not: such a file can only be GB18030.
RARE = "清河县𠮷祥客运有限公司"


def _units(roster: Roster) -> list[tuple[str, str, str, str]]:
    return [(u.code, u.name, u.category, u.email) for u in roster]


def _saved(text: str, how: str) -> bytes:
    """``text`` (comma-separated, LF) as Excel or Notepad would save it."""
    crlf = text.replace("\n", "\r\n")
    if how == "CSV UTF-8":  # Excel: CSV UTF-8 (逗号分隔)
        return codecs.BOM_UTF8 + crlf.encode("utf-8")
    if how == "Notepad UTF-8":
        return crlf.encode("utf-8")
    if how == "CSV (GBK)":  # Excel: CSV (逗号分隔), the ANSI code page of Chinese Windows
        return crlf.encode("gbk")
    if how == "CSV (GB18030)":
        return crlf.encode("gb18030")
    if how == "Unicode 文本":  # Excel: Unicode 文本, UTF-16 LE with BOM, tab-separated
        return codecs.BOM_UTF16_LE + crlf.replace(",", "\t").encode("utf-16-le")
    raise AssertionError(how)


@pytest.mark.parametrize(("how", "label"), [
    ("CSV UTF-8", "编码 UTF-8 带 BOM"),
    ("Notepad UTF-8", "编码 UTF-8"),
    ("CSV (GBK)", "编码 GBK"),
    ("Unicode 文本", "编码 UTF-16（Unicode 文本），制表符分隔"),
])
def test_roster_in_each_encoding_gives_the_same_units(tmp_path: Path, roster: Roster, how: str, label: str) -> None:
    """units.csv saved in each of Excel's and Notepad's encodings gives the shipped units, and says how it was saved."""
    path = tmp_path / "units.csv"
    path.write_bytes(_saved(UNITS_TEXT, how))

    loaded = load_roster(path)

    assert _units(loaded) == _units(roster)
    assert loaded.encoding == label


def test_gb18030_only_characters_are_read_as_gb18030(tmp_path: Path) -> None:
    """A name with a character outside GBK (𠮷) is read exactly and the roster is reported as GB18030."""
    text = UNITS_TEXT.replace("清河县顺达货物运输有限公司", RARE)
    path = tmp_path / "units.csv"
    path.write_bytes(_saved(text, "CSV (GB18030)"))

    loaded = load_roster(path)

    assert loaded.units[0].name == RARE
    assert loaded.encoding == "编码 GB18030"


def test_rollup_summary_names_the_roster_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rollup` with a GBK units.csv runs and its summary says 编码 GBK."""
    roster_path, inbox = tmp_path / "units.csv", tmp_path / "inbox"
    roster_path.write_bytes(_saved(UNITS_TEXT, "CSV (GBK)"))
    inbox.mkdir()

    code = main(["rollup", "--campaign", str(REPO / "campaign.toml"), "--roster", str(roster_path),
                 "--inbox", str(inbox), "--outbox", str(tmp_path / "outbox")])

    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"单位名录 {roster_path}：20 个单位，编码 GBK。"


def test_campaign_saved_by_notepad_as_gbk_loads(tmp_path: Path, campaign: Campaign) -> None:
    """campaign.toml saved as ANSI (GBK) by an older Notepad gives the same settings as the UTF-8 file."""
    path = tmp_path / "campaign.toml"
    path.write_bytes((REPO / "campaign.toml").read_text(encoding="utf-8").encode("gbk"))

    loaded = load_campaign(path)

    assert (loaded.theme, loaded.bureau, loaded.contact_person) == (campaign.theme, campaign.bureau,
                                                                     campaign.contact_person)


@pytest.mark.parametrize(("data", "codec", "label"), [
    (codecs.BOM_UTF32_LE + "单位".encode("utf-32-le"), "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_BE + "单位".encode("utf-16-be"), "utf-16", "UTF-16（Unicode 文本）"),
    ("单位".encode(), "utf-8", "UTF-8"),
    ("单位".encode("gbk"), "gbk", "GBK"),
    (b"plain ASCII", "utf-8", "UTF-8"),
])
def test_decode_follows_boms_then_utf8_then_gb18030(data: bytes, codec: str, label: str) -> None:
    """A BOM decides first (UTF-32 LE before the UTF-16 LE mark it starts with), then strict UTF-8, then GBK."""
    decoded = decode(data)

    assert (decoded.codec, decoded.label) == (codec, label)
    assert decoded.text.lstrip("\ufeff") in ("单位", "plain ASCII")


def test_a_broken_utf16_file_is_refused() -> None:
    """A UTF-16 BOM followed by an odd number of bytes is not guessed at: it is an error."""
    with pytest.raises(UndecodableTextError, match="UTF-16"):
        decode(codecs.BOM_UTF16_LE + b"\x41\x00\x42")


@pytest.mark.parametrize(("text", "sep"), [("单位编码\t单位名称\n", "\t"), ("单位编码,单位名称\na\tb\n", ",")])
def test_delimiter_comes_from_the_header_line(text: str, sep: str) -> None:
    """The header line alone decides between tab and comma (a tab in a later cell does not)."""
    assert delimiter(text) == sep
