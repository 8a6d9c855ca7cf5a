"""WeasyPrint, imported without its side effect on Pillow.

Importing weasyprint sets `PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True` for the whole
process. Left alone, that would let truncated images through upload validation
(cases.evidence.uploads) and the detection decoder in any process that ever rendered a PDF. Every
module of ours imports WeasyPrint from here, which puts the flag back as it was."""

from __future__ import annotations

from PIL import ImageFile

_truncated_before = ImageFile.LOAD_TRUNCATED_IMAGES
try:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse
finally:
    ImageFile.LOAD_TRUNCATED_IMAGES = _truncated_before

__all__ = ["HTML", "URLFetcher", "URLFetcherResponse"]
