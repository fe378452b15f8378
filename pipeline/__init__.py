"""The county transport bureau's “安全生产月” reporting pipeline."""

import os

# openpyxl parses with lxml whenever lxml is installed (python-docx brings it), and that path is
# not covered by defusedxml. Returned files are untrusted, so openpyxl must use the stdlib parser
# behind defusedxml; this runs before any module of the package imports openpyxl.
os.environ["OPENPYXL_LXML"] = "False"
