"""Find the 附件1 进展情况 sentences in a document's text and read what was typed in their （） blanks.

Pure: no I/O. The input is the text blocks of a document (paragraphs and table-cell texts, in
order); the output is the raw text typed in each blank, per field id, exactly as typed (only the
surrounding spaces and line breaks are dropped). Turning “12次” or “约300” into numbers is
``pipeline.values.normalise``'s job, as for Excel returns.

The patterns are built from the spec's two wordings of each sentence (``sentence`` and
``sentence_original``), never written by hand: literal characters are escaped, whitespace is
allowed anywhere, brackets, quotes, dashes and clause punctuation match their full- and half-width
variants (quotes and punctuation may even be left out), the unit printed after a blank may be
moved inside it, and the places where the two wordings differ become alternatives, so a sentence
in either wording (or a mix of both) is found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from rapidfuzz.distance import Indel

from pipeline.forms.spec import CAMPAIGN_WORDS, Field, FormSpec, Section

# Whitespace as it comes out of Word and PDF text layers, zero-width characters included.
_GAP = r"[\s\u200b\u200c\u200d\u2060\ufeff]*+"
_OPEN = "（(【[〔［"
_CLOSE = "）)】]〕］"
_QUOTES = "“”\"＂'‘’「」『』"
_PUNCT = "，,；;。.、：:！!？?"
_DASHES = "—–-－─―~～"
_BOOK_OPEN = "《<〈«"
_BOOK_CLOSE = "》>〉»"
_VARIANTS = (_OPEN, _CLOSE, _QUOTES, _PUNCT, _DASHES, _BOOK_OPEN, _BOOK_CLOSE)
_OPTIONAL = _QUOTES + _PUNCT + _DASHES + _BOOK_OPEN + _BOOK_CLOSE
_PLACEHOLDER_RE = re.compile(r"（\{([a-z][a-z0-9_]*)\}）|\{([a-z][a-z0-9_]*)\}")
# What a unit may type inside a count blank: no brackets, at most this many characters.
_COUNT_VALUE = r"[^" + re.escape(_OPEN + _CLOSE) + r"]{0,80}?"
# A free-text blank (典型案例) takes anything up to the sentence text that follows it.
_TEXT_VALUE = r"(?s:.{0,4000}?)"
_SPACE_RE = re.compile(r"[\s\u200b\ufeff]+")
_LINE_BREAK_RUN = re.compile(r"[ \t\u3000]*[\r\n\v\f\u2028\u2029]+[ \t\u3000]*")

# Header labels: "标签：值" (one or several on a line), or a label cell followed by its value cell.
_COLON = "[：:]"
_LABEL_SUFFIX = r"(?:[（(][^（）()\n]{0,8}[）)])?"  # e.g. 填报单位（盖章）
FORM_HEADINGS = ("活动项目", "内容要求", "进展情况")  # the column headings of 附件1's table


@dataclass(frozen=True)
class SentenceMatch:
    """What was read from a document's text for one form.

    ``values`` has every body field id: the raw text typed in its blank, or None when the blank
    was left as （） or its sentence was not found. ``header`` has every header field id.
    ``missing`` lists the sections whose sentence was not found; ``ambiguous`` those found more
    than once with different entries (their fields are None, as nothing is guessed).
    """

    header: dict[str, str | None]
    values: dict[str, str | None]
    found: tuple[str, ...]
    missing: tuple[str, ...]
    ambiguous: tuple[str, ...]
    places: dict[str, str]  # field id -> where its blank is, in words (第1项第2个括号)


# ----------------------------------------------------------------------------- pattern building

# ("lit", one character, "") | ("blank", field id, the unit printed right after the blank or "")
# | ("any", campaign word, ""): the campaign's words (CAMPAIGN_WORDS) stand for any short text without brackets
_CAMPAIGN_TEXT = r"[^（）()\n]{1,40}?"
_Token = tuple[str, str, str]


def _tokens(sentence: str, fields: dict[str, Field]) -> list[_Token]:
    """Split a spec sentence into literal characters and blanks, each blank with the unit printed after it."""
    tokens: list[_Token] = []
    pos = 0
    for match in _PLACEHOLDER_RE.finditer(sentence):
        tokens.extend(("lit", c, "") for c in sentence[pos:match.start()] if not c.isspace())
        fid = match.group(1) or match.group(2)
        pos = match.end()
        if fid in CAMPAIGN_WORDS:  # the campaign's theme, year or edition: whatever the notice of that year said
            tokens.append(("any", fid, ""))
            continue
        unit = fields[fid].unit
        rest = sentence[pos:]
        text = ""
        if unit and rest.startswith(unit):
            # "张（条）": a bracketed alternative unit belongs with the unit.
            extra = re.match(r"[（(][^（）(){}]{1,4}[）)]", rest[len(unit):])
            text = unit + (extra.group(0) if extra else "")
            pos += len(text)
        tokens.append(("blank", fid, text))
    tokens.extend(("lit", c, "") for c in sentence[pos:] if not c.isspace())
    return tokens


def _char(c: str) -> str:
    """The pattern for one literal character: its variants, optional when it is mere punctuation."""
    for group in _VARIANTS:
        if c in group:
            pattern = "[" + re.escape(group) + "]"
            if group is _DASHES:
                pattern += "*"
            elif c in _OPTIONAL:
                pattern += "?"
            return pattern
    return re.escape(c)


def _literal(chars: Sequence[str]) -> str:
    return _GAP.join(_char(c) for c in chars)


def _token_pattern(token: _Token, fields: dict[str, Field]) -> str:
    """A literal character, or a blank: its brackets, what was typed in it, and the unit after it.

    Either bracket may be missing and the unit may have been moved inside the brackets, but the
    closing bracket and the unit are never both missing: otherwise a lazily matched value could
    stop short (before the last digits of the sentence's final blank).
    """
    kind, text, unit = token
    if kind == "lit":
        return _char(text)
    if kind == "any":
        return _CAMPAIGN_TEXT
    value = _TEXT_VALUE if fields[text].kind == "text" else _COUNT_VALUE
    opener = "[" + re.escape(_OPEN) + "]?"
    closer = "[" + re.escape(_CLOSE) + "]"
    if unit:
        unit_pattern = _literal(unit)
        # The unit alone (brackets typed over) only when no closing bracket follows it: “（7人次）” is all value.
        after = f"(?:{closer}{_GAP}(?:{unit_pattern})?|{unit_pattern}(?!{_GAP}{closer}))"
    else:
        after = closer
    return f"{opener}{_GAP}(?P<{text}>{value}){_GAP}{after}"


def _combined(a: list[_Token], b: list[_Token], fields: dict[str, Field]) -> str | None:
    """One pattern accepting wording ``a``, wording ``b`` or any mix; None if their blanks do not align.

    The two wordings are aligned on their longest common subsequence (rapidfuzz's Indel opcodes); each
    run of differences between two common stretches becomes one alternative.
    """
    parts: list[str] = []
    left: list[_Token] = []
    right: list[_Token] = []

    def differ() -> bool:
        if not left and not right:
            return True
        if any(t[0] != "lit" for t in (*left, *right)):
            return False
        parts.append("(?:" + _literal([t[1] for t in left]) + "|" + _literal([t[1] for t in right]) + ")")
        left.clear()
        right.clear()
        return True

    for op in Indel.opcodes(a, b):
        if op.tag != "equal":
            left.extend(a[op.src_start:op.src_end])
            right.extend(b[op.dest_start:op.dest_end])
            continue
        if not differ():
            return None
        parts.extend(_token_pattern(t, fields) for t in a[op.src_start:op.src_end])
    return _GAP.join(parts) if differ() else None


@cache
def _section_patterns(section: Section) -> tuple[re.Pattern[str], ...]:
    """Compiled patterns for a section: normally one for both wordings together."""
    fields = {f.id: f for f in section.fields}
    wordings = [_tokens(w, fields) for w in section.wordings]
    if not wordings:
        return ()
    if len(wordings) == 2:
        both = _combined(wordings[0], wordings[1], fields)
        if both is not None:
            return (re.compile(both),)
    return tuple(re.compile(_GAP.join(_token_pattern(t, fields) for t in w)) for w in wordings)


@cache
def _header_patterns(labels: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """For each header label, a pattern finding “标签：值” up to the next label or the end of the line."""
    spelled = ["(?:" + _GAP.join(re.escape(c) for c in label) + ")" for label in labels]
    next_label = r"(?=[ \t\u3000]*(?:" + "|".join(spelled) + ")" + _LABEL_SUFFIX + r"[ \t\u3000]*" + _COLON + r"|\n|$)"
    return tuple(
        re.compile(s + _LABEL_SUFFIX + r"[ \t\u3000]*" + _COLON + r"[ \t\u3000]*(?P<value>[^\n]*?)[ \t\u3000]*" + next_label)
        for s in spelled
    )


@cache
def _label_cell_pattern(label: str) -> re.Pattern[str]:
    """A block that is the label alone (a table's label cell), maybe with a colon."""
    return re.compile(r"^\s*" + _GAP.join(re.escape(c) for c in label) + _LABEL_SUFFIX + r"\s*" + _COLON + r"?\s*$")


# ----------------------------------------------------------------------------- matching


def clean(raw: str) -> str | None:
    """The text typed in a blank: surrounding whitespace and line-wrap breaks dropped; None when empty."""
    text = _LINE_BREAK_RUN.sub("", raw).strip(" \t\u3000\r\n\u200b\ufeff")
    return text or None


def _read_section(section: Section, text: str) -> tuple[dict[str, str | None] | None, bool]:
    """The blanks of a section's sentence: (values, ambiguous); values is None when not found."""
    seen: list[dict[str, str | None]] = []
    for pattern in _section_patterns(section):
        for match in pattern.finditer(text):
            values = {f.id: clean(match.group(f.id)) for f in section.fields}
            if values not in seen:
                seen.append(values)
        if seen:
            break
    if not seen:
        return None, False
    if len(seen) > 1:
        return None, True
    return seen[0], False


@cache
def _form_texts(spec: FormSpec) -> str:
    """The form's printed texts (headings, titles, requirements, sentences) squeezed, one per line."""
    texts = [*FORM_HEADINGS, spec.title, spec.annex]
    for s in spec.sections:
        texts += [s.title, s.requirement, *(_PLACEHOLDER_RE.sub("", w) for w in s.wordings)]
    return "\n".join(_SPACE_RE.sub("", t) for t in texts)


def _is_value(block: str, spec: FormSpec, labels: Sequence[re.Pattern[str]]) -> bool:
    """Whether a block may be the value of the label before it: not a label, nor a printed text of the form."""
    squeezed = _SPACE_RE.sub("", block)
    if not squeezed or any(p.search(block) for p in labels):
        return False
    return squeezed[:6] not in _form_texts(spec)


def _read_header(blocks: Sequence[str], spec: FormSpec) -> dict[str, str | None]:
    """Header values from “标签：值” text (a value may wrap onto the next block) or from label and value cells."""
    labels = tuple(f.label for f in spec.header)
    patterns = _header_patterns(labels)
    label_cells = [_label_cell_pattern(label) for label in labels]
    header: dict[str, str | None] = dict.fromkeys((f.id for f in spec.header), None)
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else ""
        for f, pattern, cell in zip(spec.header, patterns, label_cells, strict=True):
            if header[f.id] is not None:
                continue
            if cell.match(block):
                header[f.id] = clean(following) if _is_value(following, spec, patterns) else None
                continue
            for match in pattern.finditer(block):
                value = clean(match.group("value"))
                if value is None and not block[match.end():].strip() and _is_value(following, spec, patterns):
                    value = clean(following)
                if value is not None:
                    header[f.id] = value
                    break
    return header


# Marks a PDF's text layer misplaces: quotes and long dashes (not "-", which phone numbers use).
_STRAY_MARKS_RE = re.compile("[" + re.escape(_QUOTES + "—–―─") + "]")
_MIN_FRAGMENT = 3  # characters: a shorter run of form text (年, 日…) may be part of a typed value
_CHUNK_RE = re.compile(r"\S+")


@cache
def _printed_and_sentences(spec: FormSpec) -> tuple[str, str]:
    """The titles and requirements, and the sentence wordings, squeezed and without quotes or dashes."""
    def squeeze(text: str) -> str:
        return _STRAY_MARKS_RE.sub("", _SPACE_RE.sub("", text))

    printed = "\n".join(squeeze(t) for s in spec.sections for t in (s.title, s.requirement))
    sentences = "\n".join(squeeze(_PLACEHOLDER_RE.sub("（）", w)) for s in spec.sections for w in s.wordings)
    return printed, sentences


def tidy_pdf_blocks(blocks: Sequence[str], spec: FormSpec) -> list[str]:
    """Lines of a PDF's text made fit for :func:`match_form`.

    - Quote marks and long dashes are dropped: set in a Latin font, they are drawn apart from the Chinese
      text and come out of the text layer misplaced (“大讲堂” as “ ”大讲堂). The patterns do not
      need them; a 典型案例 text read from a PDF loses them too.
    - Runs of 活动项目 or 内容要求 text (3 characters or more) that belong to no sentence are dropped: where a table row
      breaks across pages, the text layer puts the rest of those cells on the same lines as the rest
      of the 进展情况 cell.
    """
    printed, sentences = _printed_and_sentences(spec)
    labels = _header_patterns(tuple(f.label for f in spec.header))
    tidy: list[str] = []
    for block in blocks:
        if any(label.search(block) for label in labels):
            tidy.append(_STRAY_MARKS_RE.sub(" ", block))  # the header line: its values are the unit's own
            continue
        kept: list[str] = []
        run: list[str] = []  # consecutive chunks of form text that belong to no sentence
        for chunk in [*_CHUNK_RE.findall(_STRAY_MARKS_RE.sub(" ", block)), ""]:
            if chunk and chunk in printed and chunk not in sentences:
                run.append(chunk)
                continue
            if sum(map(len, run)) < _MIN_FRAGMENT:
                kept.extend(run)
            run = []
            if chunk:
                kept.append(chunk)
        if kept:
            tidy.append(" ".join(kept))
    return tidy


def match_form(blocks: Sequence[str], spec: FormSpec) -> SentenceMatch:
    """Read the header and every section's sentence from a document's text blocks."""
    text = "\n".join(blocks)
    values: dict[str, str | None] = {}
    found: list[str] = []
    missing: list[str] = []
    ambiguous: list[str] = []
    places: dict[str, str] = {}
    for number, section in enumerate(spec.sections, start=1):
        for k, f in enumerate(section.fields, start=1):
            places[f.id] = f"第{number}项第{k}个括号"
        if not section.wordings:
            continue
        read, repeated = _read_section(section, text)
        if read is None:
            (ambiguous if repeated else missing).append(section.id)
            values.update(dict.fromkeys((f.id for f in section.fields), None))
        else:
            found.append(section.id)
            values.update(read)
    return SentenceMatch(
        header=_read_header(blocks, spec), values=values, found=tuple(found),
        missing=tuple(missing), ambiguous=tuple(ambiguous), places=places,
    )


def value_spans(blocks: Sequence[str], spec: FormSpec) -> dict[str, tuple[int, int]]:
    """Where each blank's text lies in ``"\\n".join(blocks)`` (start, end), for sentences found exactly once.

    Used to show the very characters a value was read from (a scan's crop, its scores).
    """
    text = "\n".join(blocks)
    spans: dict[str, tuple[int, int]] = {}
    for section in spec.sections:
        for pattern in _section_patterns(section):
            matches = list(pattern.finditer(text))
            if not matches:
                continue
            if len(matches) == 1:
                spans.update({f.id: matches[0].span(f.id) for f in section.fields})
            break
    return spans
