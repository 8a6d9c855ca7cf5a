"""Provenance signals: what a file says about its own origin, read without any learned model.

Pure functions: bytes in, a list of Signals out; no ORM, no torch. Each reader is
independent and never raises: a reader that cannot parse the file simply finds nothing.

- C2PA manifests (c2pa-python): claim generator, actions, IPTC `digitalSourceType`,
  signature validation and whether the signer chains to a configured trust anchor (`c2pa`);
- IPTC DigitalSourceType and CreatorTool in XMP (Pillow's getxmp, which needs defusedxml);
  generation parameters in PNG text chunks (AUTOMATIC1111 `parameters`, ComfyUI `prompt`
  and `workflow`, InvokeAI, NovelAI) and in EXIF UserComment; EXIF Software naming a known
  generator or face-swap tool (`metadata`, against the names in `vocabulary`);
- the Stable Diffusion invisible watermarks (imwatermark, dwtDct): SD 1.x "StableDiffusionV1",
  SD 2.x "SDV2", and the 48-bit message of SDXL (`watermarks`).

`readers.provenance_signals` runs them all. Every signal (`signal`) can be stripped in
seconds, so an empty list proves nothing: the UI says so.
"""

from detection.provenance.c2pa import c2pa_manifest_absent
from detection.provenance.readers import provenance_signals, provenance_unavailable
from detection.provenance.signal import Kind, Signal, Strength

__all__ = [
    "Kind",
    "Signal",
    "Strength",
    "c2pa_manifest_absent",
    "provenance_signals",
    "provenance_unavailable",
]
