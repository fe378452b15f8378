"""The text lines of a page, each with its box and scores: read by OCR from an image, or from a PDF's text layer.

Both give the same :class:`Line` records, so that one layout reader (:mod:`pipeline.scans.layout`)
serves a scan, a photo and a PDF printed from the template or the Word form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.scans import engine
from pipeline.scans.page import DETECT_SIDE, Page, scale_down

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Image = NDArray[Any]

PAD = 3  # pixels added around a detected box before it is read
REREAD_PAD = 10  # pixels around a box when a low-scoring line is read a second time
REREAD_HEIGHT = 64  # pixels: a line read again is enlarged to at least this height
RENDER_DPI = 200  # a PDF page without a text layer is rasterised at this resolution


@dataclass(frozen=True)
class Line:
    """One line of text on a page: its box (left, top, right, bottom, in page pixels or points) and scores."""

    text: str
    score: float
    box: tuple[float, float, float, float]
    chars: tuple[float, ...] = ()  # each character's score (OCR); () from a text layer (certain)
    columns: tuple[float, ...] = ()  # each character's position across the box, 0-1

    @property
    def least(self) -> float:
        """The lowest character score (the line's score when characters are not scored)."""
        return min(self.chars) if self.chars else self.score

    @property
    def centre(self) -> tuple[float, float]:
        """The middle of the box."""
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    @property
    def height(self) -> float:
        """Height of the box."""
        return self.box[3] - self.box[1]


def _crop(grey: Image, box: tuple[float, float, float, float], pad: int) -> Image:
    import cv2

    height, width = grey.shape[:2]
    x0, y0 = max(0, int(box[0]) - pad), max(0, int(box[1]) - pad)
    x1, y1 = min(width, int(box[2]) + pad + 1), min(height, int(box[3]) + pad + 1)
    return cv2.cvtColor(grey[y0:y1, x0:x1], cv2.COLOR_GRAY2BGR)


def _enlarged(crop: Image) -> Image:
    import cv2

    height = crop.shape[0]
    if height >= REREAD_HEIGHT or height == 0:
        return crop
    factor = REREAD_HEIGHT / height
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


Box = tuple[float, float, float, float]


def detect_boxes(page: Page) -> list[Box]:
    """The text boxes of an upright page, found on a reduced copy, in full-page pixels."""
    import cv2

    grey = page.grey
    if page.boxes is not None:  # found while the page's orientation was judged, and still in place
        boxes = page.boxes
    else:
        small = scale_down(grey, DETECT_SIDE)
        factor = grey.shape[1] / small.shape[1]
        boxes = [(b[0] * factor, b[1] * factor, b[2] * factor, b[3] * factor)
                 for b in engine.detect(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR))]
    return [b for b in boxes if b[2] - b[0] >= 2 and b[3] - b[1] >= 2]


def read_boxes(page: Page, boxes: list[Box]) -> list[Line]:
    """The text in each box (boxes where nothing was read are left out)."""
    read = engine.recognise([_crop(page.grey, b, PAD) for b in boxes])
    lines = [Line(r.text.strip(), r.score, b, r.chars, r.columns) for b, r in zip(boxes, read, strict=True)]
    return [line for line in lines if line.text]


def reread(page: Page, line: Line) -> Line:
    """``line`` read again from a larger, enlarged crop; the better of the two readings."""
    again = engine.recognise([_enlarged(_crop(page.grey, line.box, REREAD_PAD))])
    if not again:
        return line
    second = Line(again[0].text.strip(), again[0].score, line.box, again[0].chars, again[0].columns)
    return second if second.text and second.least > line.least else line


def crop_png(page: Page, box: tuple[float, float, float, float], pad: int = 12) -> bytes:
    """A PNG of the page as scanned (a seal shows) around ``box``, for the clerk to compare by eye."""
    import cv2

    image = page.colour if page.colour is not None else page.grey
    height, width = image.shape[:2]
    x0, y0 = max(0, int(box[0]) - pad), max(0, int(box[1]) - pad)
    x1, y1 = min(width, int(box[2]) + pad + 1), min(height, int(box[3]) + pad + 1)
    ok, data = cv2.imencode(".png", image[y0:y1, x0:x1])
    return bytes(data) if ok else b""


def red_share(page: Page, box: tuple[float, float, float, float]) -> float:
    """The share of a box covered by red ink (a seal)."""
    x0, y0, x1, y1 = (max(0, int(v)) for v in box)
    region = page.red[y0:int(y1) + 1, x0:int(x1) + 1]
    return float((region > 0).mean()) if region.size else 0.0


def ink_share(page: Page, box: tuple[float, float, float, float]) -> float:
    """The share of dark pixels in a box (after the red ink was removed)."""
    x0, y0, x1, y1 = (max(0, int(v)) for v in box)
    region = page.grey[y0:int(y1) + 1, x0:int(x1) + 1]
    return float((region < 128).mean()) if region.size else 0.0
