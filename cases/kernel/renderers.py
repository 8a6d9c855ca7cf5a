"""The API's JSON renderer: DRF's JSONRenderer, byte for byte, with orjson doing the work
when the data is made only of types orjson writes exactly as DRF does.

Serialisers hand the renderer plain data (their fields turn dates, decimals and UUIDs into
strings already), so the fast path covers nearly every response; json.encoder took a tenth
of a findings page's Python time (issue 12). Anything else (a datetime, a Decimal, a lazy
translation, a str subclass such as an error's ErrorDetail, an OrderedDict, a set, a float
that orjson writes differently, an indent asked for in the Accept header, an error from
orjson) is rendered by DRF itself, so what a client receives never changes.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

# Deeper data goes to DRF, which refuses a cycle as before (orjson stops at 254 levels).
_MAX_DEPTH = 200

# Written the same by orjson and json.dumps (ensure_ascii=False): every str, every int
# orjson accepts (a bigger one raises, and DRF renders it), True/False/None.
_LEAVES = frozenset({str, int, bool, type(None)})
# Dict and list subclasses that keep the dict's own order and items (orjson reads the
# dict's storage, json.dumps calls items(): an OrderedDict can differ, so it is not here).
_MAPPINGS = frozenset({dict, ReturnDict})
_SEQUENCES = frozenset({list, tuple, ReturnList})


def _float_is_plain(value: float) -> bool:
    """orjson and repr() agree on every finite float from 1e-4 up (both switch to
    exponents at 1e16 and write them alike); below that orjson writes 0.00001 and 1.5e-7
    where repr writes 1e-05 and 1.5e-07, and orjson writes NaN as null where DRF refuses it."""
    return value == 0.0 or (math.isfinite(value) and abs(value) >= 1e-4)


def _is_plain(data: Any, depth: int = 0) -> bool:
    """Whether orjson writes `data` exactly as DRF's JSONRenderer would (keys are left to
    orjson, which refuses anything but an exact str; DRF writes such keys differently)."""
    if depth > _MAX_DEPTH:
        return False
    kind = type(data)
    if kind in _MAPPINGS:
        values = data.values()
    elif kind in _SEQUENCES:
        values = data
    else:
        return kind in _LEAVES or (kind is float and _float_is_plain(data))
    for value in values:
        kind = type(value)
        if kind in _LEAVES:
            continue
        if kind is float:
            if not _float_is_plain(value):
                return False
        elif not _is_plain(value, depth + 1):
            return False
    return True


class FastJSONRenderer(JSONRenderer):
    """JSONRenderer's media type, format, charset and output, through orjson when it can.

    The fast path needs our REST_FRAMEWORK settings (UNICODE_JSON, COMPACT_JSON and
    STRICT_JSON all on) and no indent; otherwise, and for any data _is_plain refuses,
    DRF renders it."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> bytes:
        if data is None:
            return b""
        if (
            self.compact
            and self.strict
            and not self.ensure_ascii
            and self.get_indent(accepted_media_type or "", renderer_context or {}) is None
            and _is_plain(data)
        ):
            try:
                rendered = orjson.dumps(data)
            except orjson.JSONEncodeError:
                pass  # a non-str key, an int beyond 64 bits, a lone surrogate: DRF's call
            else:
                # DRF escapes these two (JSON allows them raw, older JavaScript did not).
                if b"\xe2\x80" in rendered:
                    rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028")
                    rendered = rendered.replace(b"\xe2\x80\xa9", b"\\u2029")
                return rendered
        drf_rendered: bytes = super().render(data, accepted_media_type, renderer_context)
        return drf_rendered
