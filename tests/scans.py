"""Test helper: scanned and photographed returns built from our own filled template and Word form.

A filled return is printed to PDF by LibreOffice, rasterised (pypdfium2) at 150 or 200 dpi and
then spoilt as a scanner or a phone would: a red seal drawn over the 填报单位 line or over a number,
rotation (90°, 180°, a few degrees), perspective on a dark desk, JPEG quality 60, grey noise; pages
can be put into a PDF without a text layer. Where things are printed is taken from the PDF's
own text layer, never hard-coded. Kept free of pytest fixtures.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
from numpy.typing import NDArray
from office import convert
from PIL import Image as PILImage
from returns import clean_values, count_ids, make_return, pairs, spec
from word_forms import Style, write_form

from pipeline.scans.pages import read_pages

Image = NDArray[np.uint8]
Box = tuple[float, float, float, float]
# Values a scan must tell apart: several digits, repeated digits, a printed 0, one digit.
CHOICES = (0, 2, 3, 7, 12, 45, 108, 696, 969, 1520, 30, 81)


def answers(seed: int) -> dict[str, Any]:
    """Clean answers for 附件1 with varied counts (a 0 among them; 696 first), same for the same seed."""
    rng = random.Random(seed)
    values = clean_values("annex1")
    for fid in count_ids():
        values[fid] = rng.choice(CHOICES)
    values[count_ids()[0]] = 696
    for participants, sessions in pairs().items():  # the form's rules hold: no participants without sessions
        if values[sessions] == 0:
            values[participants] = 0
        elif values[participants] < values[sessions]:
            values[participants] = values[sessions] + rng.choice((0, 3, 12))
    return values


def template_pdf(folder: Path, soffice: str, profile: Path, code: str, values: Mapping[str, Any]) -> Path:
    """The unit's template filled with ``values``, printed to PDF by LibreOffice."""
    book = make_return(folder / "xlsx", "annex1", code, values, name=f"{code}_annex1.xlsx")
    return convert(soffice, [book], folder / "pdf", "pdf", profile)[0]


def word_pdf(folder: Path, soffice: str, profile: Path, unit_name: str, values: Mapping[str, Any]) -> Path:
    """The notice's Word form filled with ``values``, printed to PDF by LibreOffice."""
    form = spec("annex1")
    body = {f.id: "" if values.get(f.id) is None else str(values[f.id]) for f in form.body_fields}
    header = {"unit_name": unit_name, "contact": "李明", "phone": "0311-6627527", "report_date": "2023-06-28"}
    folder.mkdir(parents=True, exist_ok=True)
    docx = write_form(folder / f"word_{unit_name[-4:]}.docx", form, body, header, Style(split_rows=False))
    return convert(soffice, [docx], folder / "pdf", "pdf", profile)[0]


def render(pdf: Path, dpi: int) -> list[Image]:
    """Every page of a PDF as a colour (BGR) image."""
    document = pdfium.PdfDocument(str(pdf))
    try:
        return [np.ascontiguousarray(document[i].render(scale=dpi / 72).to_numpy()[:, :, :3])
                for i in range(len(document))]
    finally:
        document.close()


def text_boxes(pdf: Path, dpi: int) -> list[list[tuple[str, Box]]]:
    """Each page's text-layer lines with their boxes in pixels at ``dpi``."""
    factor = dpi / 72
    return [[(ln.text, (ln.box[0] * factor, ln.box[1] * factor, ln.box[2] * factor, ln.box[3] * factor))
             for ln in page.lines.lines] for page in read_pages(pdf, "pdf", ocr=False)]


def box_of(pdf: Path, dpi: int, text: str, *, right_of: str = "") -> tuple[int, Box]:
    """(page index, box) of the first line that starts with ``text`` (on the row of a line starting ``right_of``)."""
    for index, lines in enumerate(text_boxes(pdf, dpi)):
        rows = [b for t, b in lines if right_of and t.startswith(right_of)]
        for t, box in lines:
            if not t.startswith(text):
                continue
            if rows and not any(abs((box[1] + box[3]) / 2 - (r[1] + r[3]) / 2) < 6 and box[0] > r[2] for r in rows):
                continue
            return index, box
    raise AssertionError(f"{text!r} not printed in {pdf.name}")


def seal(image: Image, centre: tuple[float, float], radius: int) -> Image:
    """A red round seal (ring, star and text arc) printed over ``image``, multiplied like real ink."""
    ink = np.full(image.shape, 255, dtype=np.uint8)
    x, y = int(centre[0]), int(centre[1])
    red = (40, 40, 220)
    cv2.circle(ink, (x, y), radius, red, max(2, radius // 14))
    cv2.circle(ink, (x, y), int(radius * 0.25), red, -1)
    for angle in range(200, 340, 14):
        px = int(x + radius * 0.72 * np.cos(np.radians(angle)))
        py = int(y + radius * 0.72 * np.sin(np.radians(angle)))
        cv2.putText(ink, "A", (px - 6, py + 6), cv2.FONT_HERSHEY_SIMPLEX, radius / 90, red, 2)
    mixed = image.astype(np.uint16) * ink.astype(np.uint16) // 255
    return mixed.astype(np.uint8)


def rotated(image: Image, degrees: float) -> Image:
    """``image`` turned counter-clockwise (90/180/270 exactly; other angles on a white, enlarged canvas)."""
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(image, int(degrees // 90) % 4))
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), borderValue=(255, 255, 255))


def photographed(image: Image, tilt: float = 0.06) -> Image:
    """The page as a phone sees it on a dark desk: a trapezoid (perspective) on a larger grey background."""
    height, width = image.shape[:2]
    pad = int(0.08 * max(height, width))
    canvas = (int(width + 2 * pad), int(height + 2 * pad))
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    shift = tilt * width
    target = np.array([[pad + shift, pad], [pad + width - shift * 0.5, pad + shift * 0.3],
                       [pad + width, pad + height], [pad, pad + height - shift * 0.2]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(image, matrix, canvas, borderValue=(60, 55, 50))


def noisy(image: Image, sigma: float = 8.0, seed: int = 1) -> Image:
    """Grey noise, as a scanner adds."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, sigma, image.shape[:2])[:, :, None]
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def jpeg(image: Image, quality: int = 60) -> bytes:
    """The image as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data)


def png(image: Image) -> bytes:
    """The image as PNG bytes."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data)


def image_pdf(pages: Sequence[Image], dpi: int) -> bytes:
    """A PDF holding only page images (no text layer), as a scanner writes."""
    images = [PILImage.fromarray(cv2.cvtColor(p, cv2.COLOR_BGR2RGB)) for p in pages]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out.getvalue()


def activity_photo(seed: int = 3) -> Image:
    """A colourful photo with people-like shapes and a red banner (no form on it)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((720, 960, 3), dtype=np.uint8)
    image[:] = (200, 170, 120)
    cv2.rectangle(image, (80, 60), (880, 170), (30, 30, 200), -1)
    cv2.putText(image, "SAFETY MONTH", (220, 140), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 230, 255), 5)
    for _ in range(14):
        x, y = int(rng.integers(60, 900)), int(rng.integers(300, 620))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(image, (x, y - 60), 28, (150, 180, 220), -1)
        cv2.rectangle(image, (x - 35, y - 30), (x + 35, y + 90), colour, -1)
    return image
