"""The OCR engine (rapidocr on onnxruntime, the PP-OCR models its wheel bundles), loaded once per process.

Detection and recognition are called separately: text is found on a reduced copy of the page
(detection dominates the time and needs no fine detail) and read from crops of the full page.
rapidocr's per-line direction classifier is never used: it turned “696” into “969” at a score of
1.000. The page is made upright before (:mod:`pipeline.scans.page`). The models are named by
path inside the installed package, so no download is ever attempted.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Image = NDArray[Any]

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
_LOCK = threading.Lock()


class EngineMissingError(Exception):
    """The OCR engine or its models are not installed on this computer (not the unit's fault)."""


@dataclass(frozen=True)
class Recognised:
    """The text read from one crop, its score (0-1) and each character's score."""

    text: str
    score: float
    chars: tuple[float, ...] = ()
    columns: tuple[float, ...] = ()  # each character's horizontal position, as a fraction of the crop's width


def model_dir() -> Path:
    """The folder of the models the rapidocr wheel installs."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


@functools.cache
def _engine() -> Any:
    """The rapidocr pipeline, with every model given by path (offline) and the direction classifier off."""
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:  # a missing optional wheel is this computer's matter
        raise EngineMissingError("rapidocr") from exc
    models = model_dir()
    paths = {key: models / name for key, name in (("Det", DET_MODEL), ("Rec", REC_MODEL), ("Cls", CLS_MODEL))}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise EngineMissingError(", ".join(missing))
    params: dict[str, Any] = {"Global.use_cls": False, "Global.log_level": "error", "Global.text_score": 0.0}
    params.update({f"{key}.model_path": str(path) for key, path in paths.items()})
    return RapidOCR(params=params)


def detect(image: Image) -> list[tuple[float, float, float, float, float]]:
    """Text boxes found on ``image``: (left, top, right, bottom, angle in degrees of the box's top edge)."""
    import math

    with _LOCK:
        found = _engine()._load_det_model()(image)
    boxes = [] if found.boxes is None else found.boxes
    result = []
    for quad in boxes:
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        (x0, y0), (x1, y1) = quad[0], quad[1]
        angle = math.degrees(math.atan2(float(y1 - y0), float(x1 - x0))) if x1 != x0 else 90.0
        result.append((min(xs), min(ys), max(xs), max(ys), angle))
    return result


def recognise(crops: list[Image]) -> list[Recognised]:
    """The text of each crop (one line of text each), in order."""
    if not crops:
        return []
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    with _LOCK:
        out = _engine()._load_rec_model()(TextRecInput(img=crops, return_word_box=True))
    found: list[Recognised] = []
    for text, score, words in zip(out.txts, out.scores, out.word_results, strict=True):
        chars: tuple[float, ...] = ()
        columns: tuple[float, ...] = ()
        if words is not None and getattr(words, "confs", None):
            chars = tuple(float(c) for c in words.confs)
            width = float(getattr(words, "line_txt_len", 0.0) or 0.0)
            cols = [float(c) for group in getattr(words, "word_cols", []) for c in group]
            if width > 0 and len(cols) == len(chars):
                columns = tuple(min(1.0, c / width) for c in cols)
        found.append(Recognised(str(text), float(score), chars, columns))
    return found


def upside_down(crops: list[Image]) -> float:
    """The share of votes (weighted by score) of the direction classifier that the crops are upside down.

    Used for the whole page only, on several pieces of long lines: never to turn a single line.
    """
    if not crops:
        return 0.0
    with _LOCK:
        out = _engine()._load_cls_model()(crops)
    flipped = sum(score for label, score in out.cls_res if "180" in str(label))
    total = sum(score for _, score in out.cls_res)
    return float(flipped / total) if total else 0.0
