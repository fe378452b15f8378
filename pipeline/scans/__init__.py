"""Scanned and photographed returns: page images → upright, clean pages → text lines with boxes and scores.

Nothing here is imported unless a file that looks like a return has no text to read
(:mod:`pipeline.intake.sources.scan`): OpenCV, onnxruntime and the OCR models load lazily.
"""
