"""The steps of one capture (cases.evidence.capture.pipeline runs them in order):
`visit` (what the fetch of the URL says), `screenshot` (Chromium through the same fetcher),
`media` (the images and videos the page embeds) and `archive` (WARC, then WACZ).
Each step writes into the CaptureOutput it is given and touches no database."""
