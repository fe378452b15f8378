"""make bench, scenario i: a cold rollup of scanned returns (image-only PDFs), timed per page.

The returns are the bench's own filled templates, printed to PDF by LibreOffice, rasterised at
150 or 200 dpi (pypdfium2) and saved as PDFs without a text layer; every fourth page is upside
down and every third skewed by 2°, as a scanner feeds them. Needs soffice; skipped without it.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def make_scans(books: list[Path], out: Path, soffice: str) -> int:
    """Image-only PDF scans of ``books`` in ``out``; returns the number of pages."""
    import cv2
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    printed = out.parent / "printed"
    printed.mkdir(parents=True, exist_ok=True)
    profile = out.parent / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(printed), *map(str, books)],
                   check=True, capture_output=True, timeout=600)
    out.mkdir(parents=True, exist_ok=True)
    pages = 0
    for index, book in enumerate(books):
        dpi = 200 if index % 2 else 150
        document = pdfium.PdfDocument(str(printed / f"{book.stem}.pdf"))
        images = []
        for number in range(len(document)):
            image = np.ascontiguousarray(document[number].render(scale=dpi / 72).to_numpy()[:, :, :3])
            pages += 1
            if pages % 4 == 0:
                image = np.ascontiguousarray(np.rot90(image, 2))
            elif pages % 3 == 0:
                height, width = image.shape[:2]
                matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 2.0, 1.0)
                image = cv2.warpAffine(image, matrix, (width, height), borderValue=(255, 255, 255))
            images.append(Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
        document.close()
        images[0].save(out / f"{book.stem}_扫描件.pdf", "PDF", resolution=float(dpi), save_all=True,
                       append_images=images[1:])
    shutil.rmtree(printed)
    return pages


def scan_scenario(books: list[Path], work: Path, soffice: str | None,
                  rollup: Callable[[Path, Path], None]) -> tuple[float, int, int, float] | None:
    """(seconds of a cold rollup of the scans, returns, pages, CPU seconds of it), or None without LibreOffice.

    The CPU seconds (user + system of the rollup's processes, every thread) tell the cost apart from the
    machine's load: on a busy shared machine the wall time is mostly waiting for a core.
    """
    if soffice is None or not books:
        return None
    inbox, outbox = work / "scans" / "inbox", work / "scans" / "outbox"
    shutil.rmtree(work / "scans", ignore_errors=True)
    pages = make_scans(books, inbox, soffice)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rollup(inbox, outbox)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, len(books), pages, cpu


def scan_lines(scans: tuple[float, int, int, float] | None, requested: int) -> list[str]:
    """Scenario i's row (seconds per page) and its note, as make bench prints them."""
    label = "i. 扫描件首次汇总（每页）"
    if scans is None:
        return [] if not requested else ["i 未运行：本机没有 LibreOffice（soffice），无法生成扫描件"]
    seconds, count, pages, cpu = scans
    return [f"{label:<34}{seconds / pages:>10.2f}{'-':>10}",
            f"i 为 {count} 份扫描件（{pages} 页，无文字层，150/200 dpi）首次汇总共 {seconds:.1f} s，"
            f"每页 {seconds / pages:.2f} s（CPU 每页 {cpu / pages:.2f} s，各线程合计），"
            f"目标每页 ≤ 5 s：{'达到' if seconds / pages <= 5 else '未达到'}"]
