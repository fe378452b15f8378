"""One page image made fit for OCR: decoded, flattened, red ink removed, turned upright and deskewed (OpenCV).

- **Perspective** (a phone photo of a sheet on a desk): the largest four-cornered outline that covers
  much of the photo but not all of it is taken for the sheet and warped to a rectangle.
- **Red seal** (公章): red and pink pixels (HSV hue near 0/180 with some saturation) are made white before
  OCR. Black print under the seal stays. The mask is kept, so that a value under the seal can be
  reported instead of trusted.
- **Orientation**: text lines are wider than tall, so boxes that are taller than wide mean the page lies
  on its side (turned by 90°); upright and upside down are told apart by which reads with the higher
  score. The skew left (up to a few degrees) is the median angle of the long text boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.scans import engine

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Image = NDArray[Any]

MAX_SIDE = 3600  # pixels: a larger photo is scaled down first (a 300-dpi A4 scan is 3508 high)
DETECT_SIDE = 1400  # pixels: detection runs on the page scaled to this long side
MIN_SHEET = 0.25  # a sheet outline must cover this share of a photo to be flattened
MAX_SHEET = 0.97  # … and less than this (a scan's own border is not a sheet on a desk)
MIN_SKEW = 0.2  # degrees: a smaller skew is left as it is
SKEW_LIMIT = 8.0  # degrees: a larger median angle is not skew, and is left alone
PROBE_LINES = 12  # widest text boxes whose pieces vote on upright or upside down


class ImageError(Exception):
    """The image cannot be decoded (damaged, or not an image OpenCV reads); the message is Chinese."""


@dataclass
class Page:
    """A page ready for OCR: grey image without red ink, the red mask, and what was done to it."""

    grey: Image
    red: Image  # 255 where red ink was removed
    turned: int = 0  # degrees (clockwise) the page was turned to stand upright
    skew: float = 0.0  # degrees of skew corrected
    flattened: bool = False
    colour: Image | None = None  # the page as scanned (seal included), upright: what the clerk is shown
    boxes: list[tuple[float, float, float, float]] | None = None  # text boxes already found, when still valid


def decode(data: bytes) -> Image:
    """A colour (BGR) image from an image file's bytes, EXIF orientation applied; raises :class:`ImageError`."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageError("图片已损坏或格式无法识别")
    return scale_down(image, MAX_SIDE)


def load(path: Path) -> Image:
    """An image file (read as bytes, so that a Chinese path works on Windows too)."""
    return decode(path.read_bytes())


def scale_down(image: Image, side: int) -> Image:
    """``image`` scaled so that its long side is at most ``side``."""
    import cv2

    height, width = image.shape[:2]
    factor = side / max(height, width)
    if factor >= 1:
        return image
    return cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                      interpolation=cv2.INTER_AREA)


def _order(quad: Image) -> Image:
    """Corners in the order top-left, top-right, bottom-right, bottom-left."""
    import numpy as np

    sums, diffs = quad.sum(axis=1), np.diff(quad, axis=1).ravel()
    return np.array([quad[np.argmin(sums)], quad[np.argmin(diffs)], quad[np.argmax(sums)], quad[np.argmax(diffs)]],
                    dtype=np.float32)


def flatten(image: Image) -> tuple[Image, bool]:
    """The sheet of a photo warped to a rectangle (perspective removed), or the image as it was."""
    import cv2
    import numpy as np

    small = scale_down(image, 1000)
    factor = image.shape[1] / small.shape[1]
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    _, bright = cv2.threshold(cv2.GaussianBlur(grey, (5, 5), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    area = small.shape[0] * small.shape[1]
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
        share = cv2.contourArea(contour) / area
        if not MIN_SHEET <= share <= MAX_SHEET:
            continue
        quad = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
        if len(quad) != 4:
            continue
        corners = _order(quad.reshape(4, 2).astype(np.float32) * factor)
        width = int(max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[3] - corners[2])))
        height = int(max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2])))
        target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(corners, target)
        return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                   borderValue=(255, 255, 255)), True
    return image, False


def remove_red(image: Image) -> tuple[Image, Image]:
    """(grey image with red ink made white, mask of the red ink)."""
    import cv2
    import numpy as np

    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    low = cv2.inRange(hsv, np.array([0, 60, 90]), np.array([12, 255, 255]))
    high = cv2.inRange(hsv, np.array([160, 60, 90]), np.array([180, 255, 255]))
    mask = cv2.bitwise_or(low, high)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey[mask > 0] = 255
    return grey, mask


def rotate(image: Image, quarter_turns: int) -> Image:
    """``image`` turned clockwise by 90° ``quarter_turns`` times."""
    import numpy as np

    return np.ascontiguousarray(np.rot90(image, -quarter_turns % 4))


def turn(image: Image, degrees: float, fill: int) -> Image:
    """``image`` rotated counter-clockwise by ``degrees`` about its centre, the canvas enlarged to keep the corners."""
    import cv2

    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_CUBIC, borderValue=(fill, fill, fill))


def _colour(grey: Image) -> Image:
    import cv2

    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _flipped(grey: Image, boxes: list[tuple[float, float, float, float, float]]) -> bool:
    """Whether the page is upside down: the direction classifier's vote on pieces of the widest lines."""
    widest = sorted(boxes, key=lambda b: b[2] - b[0], reverse=True)[:PROBE_LINES]
    crops = []
    for b in widest:
        x0, y0, x1, y1 = int(b[0]), int(b[1]), int(b[2]) + 1, int(b[3]) + 1
        piece = max(1, 4 * (y1 - y0))  # the direction model reads a short piece (its input is 4:1)
        for left in (x0, max(x0, x1 - piece)):
            crop = grey[y0:y1, left:min(x1, left + piece)]
            if crop.size:
                crops.append(_colour(crop))
    return engine.upside_down(crops) > 0.5


Found = list[tuple[float, float, float, float]]


def orientation(grey: Image) -> tuple[int, float, Found | None]:
    """(quarter turns clockwise that make the page upright, skew in degrees left after that, and the text
    boxes in full-page pixels when the page needs no turn of 90° and no deskew, so that they serve as they are).

    Text is found on the page scaled to the detection size, the size the recognition step uses too.
    """
    probe = scale_down(grey, DETECT_SIDE)
    factor = grey.shape[1] / probe.shape[1]
    boxes = engine.detect(_colour(probe))
    if not boxes:
        return 0, 0.0, None
    tall = sum((b[3] - b[1]) > (b[2] - b[0]) for b in boxes)
    quarter = 1 if tall * 2 > len(boxes) else 0
    if quarter:
        probe = rotate(probe, 1)
        boxes = engine.detect(_colour(probe))
    flipped = _flipped(probe, boxes)
    long = sorted(b[4] for b in boxes if (b[2] - b[0]) > 4 * (b[3] - b[1]))
    skew = long[len(long) // 2] if long else 0.0
    skew = skew if abs(skew) <= SKEW_LIMIT else 0.0
    found: Found | None = None
    if not quarter and abs(skew) < MIN_SKEW:
        height, width = probe.shape[:2]
        if flipped:  # the same boxes, seen from the other end of the page
            boxes = [(width - b[2], height - b[3], width - b[0], height - b[1], b[4]) for b in boxes]
        found = [(b[0] * factor, b[1] * factor, b[2] * factor, b[3] * factor) for b in boxes]
    return (quarter + 2 * flipped) % 4, skew, found


def prepare(image: Image) -> Page:
    """A decoded page flattened, without red ink, upright and deskewed."""
    flat, flattened = flatten(image)
    grey, red = remove_red(flat)
    quarter, skew, found = orientation(grey)
    if quarter:
        grey, red, flat = rotate(grey, quarter), rotate(red, quarter), rotate(flat, quarter)
    if abs(skew) >= MIN_SKEW:
        grey, red, flat = turn(grey, skew, 255), turn(red, skew, 0), turn(flat, skew, 255)
    return Page(grey, red, quarter * 90, skew, flattened, flat, found)

