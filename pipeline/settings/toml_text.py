"""Settings mistakes in Chinese, with the line: TOML syntax errors explained, keys located, values checked.

``campaign.toml`` is edited by hand in Notepad. A mistake must come back as the file, the
line number, the line itself, what is wrong in plain Chinese and how to write it instead,
not as ``Expected newline or end of document after a statement (at line 3, column 9)``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")

# tomllib's messages (Python 3.11 to 3.14) -> what is wrong and how to write it, for a clerk.
_EXPLAINED: tuple[tuple[str, str], ...] = (
    ("Invalid value", "“=”后面的值写法不对。文字须用英文双引号括起来（不能用中文引号“”），如 email = \"name@163.com\"；"
                      "日期写成 2023-06-30（不加引号）；数字只写阿拉伯数字（不加引号）。"),
    ("Expected newline or end of document", "一行只能写一项设置，值的后面不能再有别的内容：数字中不能有逗号或空格（写 2000，"
                                            "不写 2,000），日期的月、日须写两位（写 2023-06-30，不写 2023-6-30），"
                                            "说明文字须以 # 开头。"),
    ("Invalid date or datetime", "日期不存在或写法不对，应写成“年-月-日”，月、日各两位，如 2023-06-30。"),
    ("Expected ']' at the end of a table declaration", "表头缺少右方括号，应写成 [contact] 这样（英文方括号）。"),
    ("Expected ']]'", "表头的方括号没有配对，应写成 [contact] 这样（英文方括号）。"),
    ("Expected '=' after a key", "设置项名称后面应是英文等号“=”（不能用中文的“＝”），名称中间不能有空格。"),
    ("Invalid initial character for a key part", "设置项名称只能用英文字母、数字和下划线，如 annex1_due。"),
    ("Invalid statement", "这一行不是“名称 = 值”的形式：设置项名称只能用英文字母、数字和下划线，"
                          "说明文字须以 # 开头作为注释。"),
    ("Cannot overwrite a value", "同一个设置项写了两次，请删去其中一行。"),
    ("Cannot declare", "同一个表头（如 [contact]）写了两次，请把两处的设置合并到一处，删去重复的表头。"),
    ("Cannot redefine namespace", "同一个表头或设置项写了两次，请删去重复的一处。"),
    ("Cannot mutate immutable namespace", "同一个表头或设置项写了两次，请删去重复的一处。"),
    ("Duplicate inline table key", "花括号中同一个名称写了两次，请删去其中一个。"),
    ("Unterminated string", "文字缺少结尾的英文双引号，请在文字末尾补上 \"。"),
    ("Unclosed array", "方括号 [ ] 没有配对，请补上缺少的 ]。"),
    ("Unclosed inline table", "花括号 { } 没有配对，请补上缺少的 }。"),
    ("Illegal character '\\n'", "文字缺少结尾的英文双引号，请在文字末尾补上 \"。"),
    ("Illegal character", "含有不允许出现的控制字符（可能是从别处复制来的），请删去这一行后重新输入。"),
    ("Found invalid character", "含有不允许出现的字符，请删去这一行后重新输入。"),
    ("Unescaped '\\'", "文字中的反斜杠“\\”须写两个（\\\\），或改用单引号括起来。"),
    ("Invalid hex value", "文字中的“\\u”“\\x”转义写法不对，请删去反斜杠。"),
    ("Escaped character is not a Unicode scalar value", "文字中的“\\u”转义写法不对，请删去反斜杠。"),
)
_GENERIC = "写法不符合 TOML 格式。请对照示例的 campaign.toml 改正：文字加英文双引号，日期写成 2023-06-30，数字不加引号。"


def _parse_message(exc: tomllib.TOMLDecodeError) -> tuple[str, int | None]:
    """tomllib's message without its position, and the line it names (None for the end of the document)."""
    text = str(exc.args[0]) if exc.args else str(exc)
    text = text.splitlines()[0] if text else ""
    found = _AT.search(text)
    line = getattr(exc, "lineno", None)  # Python 3.14 has it as an attribute
    if found:
        text = text[:found.start()]
        if line is None and found.group(1):
            line = int(found.group(1))
    return text, line


def _first_failing_line(text: str, message: str) -> int | None:
    """For an error tomllib places at the end of the document: the first line whose prefix fails the same way.

    A string left open, a duplicated key or an array never closed is reported at the end;
    the shortest prefix of the file that fails with the same message ends on the line at fault.
    """
    lines = text.splitlines()
    for count in range(1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[:count]))
        except tomllib.TOMLDecodeError as exc:
            if _parse_message(exc)[0] == message:
                return count
    return None


def explain_toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError, what: str = "活动设置文件") -> str:
    """The Chinese message for a TOML syntax error: file, line number, the line itself, what is wrong, the fix."""
    message, line = _parse_message(exc)
    if line is None:
        line = _first_failing_line(text, message)
    reason = next((why for start, why in _EXPLAINED if message.startswith(start)), None)
    if reason is None:
        reason = f"{_GENERIC}（解析程序的原文：{message}）"
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return f"{what} {path} 的格式有误（在文件末尾）：{reason}"
    return f"{what} {path} 第{line}行格式有误：\n    {line} | {lines[line - 1].rstrip()}\n{reason}"


# ---------------------------------------------------------------- where a key is


_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_\-]+)\s*\]\s*(?:#.*)?$")


def key_line(text: str, section: str, key: str) -> int | None:
    """The line number of ``key = …`` in ``[section]``, for a message; None when it is not written there.

    Only locates the key in a document tomllib has already parsed, so a plain scan of the
    table headers and the ``name =`` starts of lines is exact for the flat files we read.
    """
    current = ""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        table = _TABLE.match(line)
        if table:
            current = table.group(1)
        elif current == section and pattern.match(line):
            return number
    return None


def where(path: Path, text: str, section: str, key: str, what: str = "活动设置文件") -> str:
    """“活动设置文件 campaign.toml 第21行 [contact] email”, the line left out when the key is not there."""
    line = key_line(text, section, key)
    at = f" 第{line}行" if line else ""
    return f"{what} {path}{at} [{section}] {key}"


# ---------------------------------------------------------------- the checks


def email_problem(address: str) -> str | None:
    """Why ``address`` is not a usable mailbox, in Chinese; None when it is one."""
    from email_validator import EmailNotValidError, validate_email

    if "@" not in address:
        return "缺少“@”"
    if any(ch in address for ch in "＠。，；： "):
        return "含有全角符号或空格"
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return "格式不正确"
    return None


def year_problems(year: int, dates: Mapping[tuple[str, str], dt.date]) -> Iterable[tuple[str, str, dt.date]]:
    """The (section, key, date) of each date that does not fall in ``year``."""
    return ((section, key, day) for (section, key), day in dates.items() if day.year != year)


def positive_problems(values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The (key, value) of each limit that is not a positive number."""
    return [(k, v) for k, v in values.items() if not (isinstance(v, int) and not isinstance(v, bool) and v > 0)]
