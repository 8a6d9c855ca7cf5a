"""Provenance signals: what a file says about its own origin, read without any learned model.

Pure functions: bytes in, a list of Signals out; no ORM, no torch. Each reader is
independent and never raises: a reader that cannot parse the file simply finds nothing.

- C2PA manifests (c2pa-python): claim generator, actions, IPTC `digitalSourceType`,
  signature validation and whether the signer chains to a configured trust anchor;
- IPTC DigitalSourceType and CreatorTool in XMP (Pillow's getxmp, which needs defusedxml);
- generation parameters in PNG text chunks (AUTOMATIC1111 `parameters`, ComfyUI `prompt`
  and `workflow`, InvokeAI, NovelAI) and in EXIF UserComment;
- EXIF Software naming a known generator or face-swap tool;
- the Stable Diffusion invisible watermarks (imwatermark, dwtDct): SD 1.x "StableDiffusionV1",
  SD 2.x "SDV2", and the 48-bit message of SDXL.

Strength: "strong" is a positive statement that the item is AI-generated or AI-edited
(a manifest declaring trainedAlgorithmicMedia, an SD watermark, a generator's parameters);
"weak" is a hint (a damaged manifest that declares an AI source, a partial watermark);
"info" is provenance that says nothing about AI (a camera's C2PA manifest). Every one of
them can be stripped in seconds, so an empty list proves nothing: the UI says so.

Summaries are English with their template and parameters kept in `details`, so the web UI
can show them in the reader's language (`gettext(details["message"]) % details["params"]`).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def gettext_noop(text: str) -> str:
    """Marks a string for makemessages without importing Django (this module is pure)."""
    return text


class Kind:
    C2PA = "c2pa"
    IPTC = "iptc_digital_source_type"
    PNG_TEXT = "png_text"
    EXIF_SOFTWARE = "exif_software"
    SD_WATERMARK = "sd_watermark"


class Strength:
    STRONG = "strong"
    WEAK = "weak"
    INFO = "info"


@dataclass(frozen=True)
class Signal:
    """One provenance finding about a file. `summary` is user-facing English; `details`
    holds the raw facts (and `message`/`params` for translation)."""

    kind: str
    strength: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signal:
        return cls(
            kind=str(data.get("kind", "")),
            strength=str(data.get("strength", Strength.INFO)),
            summary=str(data.get("summary", "")),
            details=dict(data.get("details") or {}),
        )

    @property
    def indicates_ai(self) -> bool:
        return self.strength in (Strength.STRONG, Strength.WEAK)


def _signal(
    kind: str, strength: str, message: str, details: dict[str, Any] | None = None, **params: Any
) -> Signal:
    params = {k: str(v) for k, v in params.items()}
    details = {**(details or {}), "message": message, "params": params}
    # Further sentences (a C2PA manifest's validity), each a message with its own params.
    summary = " ".join(
        [message % params, *(s["message"] % s["params"] for s in details.get("statements", []))]
    )
    return Signal(kind=kind, strength=strength, summary=summary, details=details)


# ---------------------------------------------------------------------------- vocabularies

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC digital source types that state (part of) the content was made by an algorithm.
# https://cv.iptc.org/newscodes/digitalsourcetype/
AI_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": Strength.STRONG,
    "compositeWithTrainedAlgorithmicMedia": Strength.STRONG,
    "algorithmicMedia": Strength.STRONG,
    "compositeSynthetic": Strength.STRONG,
    "algorithmicallyEnhanced": Strength.WEAK,
}

# Generators and face-swap tools that write their name into Software / CreatorTool /
# a C2PA claim generator. Word boundaries keep "imagenet" or "influx" from matching.
GENERATOR_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in [
        ("Midjourney", r"\bmidjourney\b"),
        ("DALL·E", r"\bdall[\W_]?e\b"),
        ("Stable Diffusion", r"\bstable[\s_-]?diffusion\b|\bsdxl\b"),
        ("Adobe Firefly", r"\bfirefly\b"),
        ("Google Imagen", r"\bimagen\b"),
        ("Google AI", r"made with google ai|\bgemini\b"),
        ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-?4o\b|\bsora\b"),
        ("Microsoft Designer / Bing Image Creator", r"bing image creator|microsoft designer"),
        ("FLUX", r"\bflux(?:\.1)?\b"),
        ("NovelAI", r"\bnovel\s?ai\b"),
        ("ComfyUI", r"\bcomfy\s?ui\b"),
        ("AUTOMATIC1111", r"\bautomatic1111\b|\bstable-diffusion-webui\b"),
        ("InvokeAI", r"\binvoke\s?ai\b"),
        ("Fooocus", r"\bfooocus\b"),
        ("Leonardo.Ai", r"\bleonardo\.?ai\b"),
        ("Ideogram", r"\bideogram\b"),
        ("DreamStudio", r"\bdreamstudio\b"),
        ("Runway", r"\brunway(?:ml)?\b"),
        ("Kling", r"\bkling\b"),
        ("Pika", r"\bpika\b"),
        ("Grok", r"\bgrok\b"),
        ("Meta AI", r"\bmeta ai\b|\bimagine with meta\b"),
        ("DeepFaceLab", r"\bdeepfacelab\b"),
        ("FaceFusion", r"\bfacefusion\b"),
        ("FaceSwap", r"\bface\s?swap\b"),
        ("roop", r"\broop\b"),
        ("Deep-Live-Cam", r"\bdeep[\s-]?live[\s-]?cam\b"),
        ("Reface", r"\breface\b"),
    ]
]


def generator_named_in(text: str) -> str | None:
    """The known generator named in a free-text field, or None."""
    for name, pattern in GENERATOR_PATTERNS:
        if pattern.search(text):
            return name
    return None


def _source_type_code(value: Any) -> str:
    """'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' →
    'trainedAlgorithmicMedia' (C2PA also accepts the bare code)."""
    return str(value).strip().rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------- C2PA

_c2pa_context_cache: dict[str, Any] = {}


def _c2pa_context(trust_anchors_pem: str | None) -> Any:
    """A c2pa Context that never touches the network (no remote manifests, no OCSP) and
    checks signers against the configured anchors. One per set of anchors, per process."""
    import c2pa

    key = trust_anchors_pem or ""
    context = _c2pa_context_cache.get(key)
    if context is None:
        config: dict[str, Any] = {
            "verify": {
                "verify_trust": True,
                "remote_manifest_fetch": False,
                "ocsp_fetch": False,
            }
        }
        if trust_anchors_pem:
            config["trust"] = {"trust_anchors": trust_anchors_pem}
        context = c2pa.Context(c2pa.Settings.from_dict(config))
        _c2pa_context_cache[key] = context
    return context


def _c2pa_actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    actions = []
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if not label.startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = agent.get("name", "")
            actions.append(
                {
                    "action": str(action.get("action", "")),
                    "software_agent": str(agent or ""),
                    "digital_source_type": str(action.get("digitalSourceType", "")),
                }
            )
    return actions


def _claim_generator(manifest: dict[str, Any]) -> str:
    generator = str(manifest.get("claim_generator") or "")
    if not generator:
        infos = manifest.get("claim_generator_info") or []
        generator = " ".join(
            f"{info.get('name', '')} {info.get('version', '')}".strip()
            for info in infos
            if isinstance(info, dict)
        )
    return generator


def c2pa_signals(
    data: bytes, media_type: str = "", *, trust_anchors_pem: str | None = None
) -> list[Signal]:
    try:
        import c2pa
    except ImportError:  # pragma: no cover - c2pa-python is a declared dependency
        log.warning("c2pa-python is not installed; C2PA manifests are not read")
        return []
    try:
        reader = c2pa.Reader(
            media_type or None, io.BytesIO(data), context=_c2pa_context(trust_anchors_pem)
        )
    except Exception as exc:
        text = str(exc)
        if (
            "ManifestNotFound" in type(exc).__name__
            or "ManifestNotFound" in text
            or "NotSupported" in text
        ):
            return []
        remote = re.search(r"https?://\S+", text)
        if "Remote" in text and remote:
            return [
                _signal(
                    Kind.C2PA,
                    Strength.INFO,
                    gettext_noop(
                        "The file points to Content Credentials (C2PA) stored at %(url)s; "
                        "they were not fetched, because this server never contacts outside hosts."
                    ),
                    {"remote_url": remote.group(0)},
                    url=remote.group(0),
                )
            ]
        log.info("C2PA data could not be read: %s", text)
        return []
    try:
        store = json.loads(reader.json())
        state = str(reader.get_validation_state() or store.get("validation_state") or "")
    finally:
        reader.close()

    return [_c2pa_signal(store, state)]


# What each C2PA validation failure means, by the codes of the C2PA specification (section
# "Validation", status codes) and of the CAWG identity assertion. A code is sorted by what a
# reader must be told; anything not listed is reported as an "other failure" with its code.
C2PA_CONTENT_CODES = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
    }
)
C2PA_SIGNATURE_CODES = frozenset(
    {"claimSignature.mismatch", "claimSignature.missing", "signingCredential.invalid"}
)
C2PA_UNTRUSTED_CODE = "signingCredential.untrusted"


class C2paFailure:
    """Categories of a C2PA validation failure (stored in a signal's details)."""

    CONTENT_ALTERED = "content_altered"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNER_UNTRUSTED = "signer_untrusted"
    IDENTITY_UNTRUSTED = "identity_untrusted"
    OTHER = "other"


def _is_identity(item: dict[str, Any]) -> bool:
    # A CAWG identity assertion is checked with the C2PA certificate rules, so an untrusted
    # identity credential can carry the plain signingCredential.untrusted code: only the
    # URL (pointing into the cawg.identity assertion, not at the claim signature) tells.
    return str(item.get("code", "")).startswith("cawg.") or "cawg.identity" in str(
        item.get("url", "")
    )


def c2pa_failure_category(item: dict[str, Any]) -> str:
    """The category of one validation status entry ({"code", "url", ...})."""
    code = str(item.get("code", ""))
    if _is_identity(item):
        return C2paFailure.IDENTITY_UNTRUSTED if "untrusted" in code else C2paFailure.OTHER
    if code in C2PA_CONTENT_CODES:
        return C2paFailure.CONTENT_ALTERED
    if code in C2PA_SIGNATURE_CODES:
        return C2paFailure.SIGNATURE_INVALID
    if code == C2PA_UNTRUSTED_CODE:
        return C2paFailure.SIGNER_UNTRUSTED
    return C2paFailure.OTHER


def _validation_entries(store: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str]]:
    """(failures, success codes) of the active manifest: from validation_results where the
    reader gives them (with the URL of the part each code is about), else the flat
    validation_status list."""
    results = (store.get("validation_results") or {}).get("activeManifest")
    if isinstance(results, dict):
        failures = [item for item in results.get("failure") or [] if isinstance(item, dict)]
        successes = {
            str(item.get("code", ""))
            for item in results.get("success") or []
            if isinstance(item, dict) and not _is_identity(item)
        }
        return failures, successes
    failures = [item for item in store.get("validation_status") or [] if isinstance(item, dict)]
    return failures, set()


# One sentence per finding about the manifest's validity; each is translated on its own.
_STATEMENTS = {
    C2paFailure.SIGNATURE_INVALID: gettext_noop(
        "The manifest's claim signature is broken (%(codes)s): the manifest was changed after "
        "it was signed, or was not signed with the certificate it carries, so who signed it "
        "is unknown and its statements cannot be relied on."
    ),
    C2paFailure.CONTENT_ALTERED: gettext_noop(
        "The file's content no longer matches the hash recorded in the manifest (%(codes)s): "
        "the pixels or other content were altered after signing."
    ),
    C2paFailure.SIGNER_UNTRUSTED: gettext_noop(
        "The claim signature is valid, but its signer (%(signer)s) is not on the configured "
        "trust list (%(codes)s)."
    ),
    C2paFailure.IDENTITY_UNTRUSTED: gettext_noop(
        "The credential of a CAWG identity assertion is not on the identity trust list "
        "(%(codes)s): the person or organisation it names is not verified. This is about the "
        "identity assertion, not the manifest's signer."
    ),
    C2paFailure.OTHER: gettext_noop("Other validation failure: %(codes)s."),
}
_SIGNED_TRUSTED = gettext_noop(
    "The claim signature is valid and its signer (%(signer)s) is on the configured trust list."
)
_SIGNED_UNCHECKED = gettext_noop(
    "The claim signature is valid (signer: %(signer)s); the signer was not checked against a "
    "trust list."
)
_STATEMENT_ORDER = [
    C2paFailure.SIGNATURE_INVALID,
    C2paFailure.CONTENT_ALTERED,
    C2paFailure.SIGNER_UNTRUSTED,
    C2paFailure.IDENTITY_UNTRUSTED,
    C2paFailure.OTHER,
]


def _statement(message: str, **params: str) -> dict[str, Any]:
    return {"message": message, "params": params}


def c2pa_assessment(store: dict[str, Any], state: str) -> dict[str, Any]:
    """What the validation of the active manifest says, sorted by failure category, with
    one statement (sentence) per category. The signer is named only when the claim
    signature is valid: with a broken signature the certificate proves nothing."""
    failures, successes = _validation_entries(store)
    by_category: dict[str, list[str]] = {}
    for item in failures:
        codes = by_category.setdefault(c2pa_failure_category(item), [])
        code = str(item.get("code", "")) or "?"
        if code not in codes:
            codes.append(code)
    manifests: dict[str, Any] = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "") or {}
    signature = active.get("signature_info") or {}
    signature_valid = C2paFailure.SIGNATURE_INVALID not in by_category and (
        "claimSignature.validated" in successes or state in ("Valid", "Trusted")
    )
    signer = ""
    if signature_valid:
        name = str(signature.get("common_name") or "")
        issuer = str(signature.get("issuer") or "")
        # The certificate's common name, with the organisation c2pa reports for it.
        signer = f"{name} ({issuer})" if name and issuer and name != issuer else name or issuer
    signer_trusted = (
        signature_valid
        and C2paFailure.SIGNER_UNTRUSTED not in by_category
        and ("signingCredential.trusted" in successes or state == "Trusted")
    )
    statements = []
    if signature_valid and C2paFailure.SIGNER_UNTRUSTED not in by_category:
        statements.append(
            _statement(
                _SIGNED_TRUSTED if signer_trusted else _SIGNED_UNCHECKED, signer=signer or "?"
            )
        )
    for category in _STATEMENT_ORDER:
        if category not in by_category:
            continue
        if category == C2paFailure.SIGNER_UNTRUSTED and not signature_valid:
            # With a broken signature, whether its certificate is trusted says nothing.
            continue
        params = {"codes": ", ".join(by_category[category])}
        if category == C2paFailure.SIGNER_UNTRUSTED:
            params["signer"] = signer or "?"
        statements.append(_statement(_STATEMENTS[category], **params))
    return {
        "failure_categories": [c for c in _STATEMENT_ORDER if c in by_category],
        "failures": [
            {"code": str(item.get("code", "")), "category": c2pa_failure_category(item)}
            for item in failures[:20]
        ],
        "signature_valid": signature_valid,
        "content_intact": C2paFailure.CONTENT_ALTERED not in by_category,
        "trusted": signer_trusted,
        "signer": signer,
        "signed_at": str(signature.get("time") or "") if signature_valid else "",
        "statements": statements,
    }


def _c2pa_signal(store: dict[str, Any], state: str) -> Signal:
    """The one C2PA signal of a manifest store: what it declares, then its validity."""
    manifests: dict[str, Any] = store.get("manifests") or {}
    active_label = store.get("active_manifest") or ""
    active = manifests.get(active_label) or {}
    generator = _claim_generator(active)
    assessment = c2pa_assessment(store, state)

    ai_types: list[tuple[str, str]] = []  # (code, manifest title or label)
    all_actions = []
    for label, manifest in manifests.items():
        actions = _c2pa_actions(manifest)
        all_actions.extend({**action, "manifest": label} for action in actions)
        for action in actions:
            code = (
                _source_type_code(action["digital_source_type"])
                if action["digital_source_type"]
                else ""
            )
            if code in AI_SOURCE_TYPES:
                ai_types.append((code, label))
    named = generator_named_in(" ".join([generator, *(a["software_agent"] for a in all_actions)]))
    # What the manifest declares is reliable only if its signature holds and the content is
    # the one signed; an untrusted signer or identity does not change what was declared.
    reliable = assessment["signature_valid"] and not (
        {C2paFailure.CONTENT_ALTERED, C2paFailure.OTHER} & set(assessment["failure_categories"])
    )

    details = {
        "claim_generator": generator,
        "active_manifest": active_label,
        "manifest_count": len(manifests),
        "actions": all_actions[:50],
        "digital_source_types": sorted({code for code, _ in ai_types}),
        "validation_state": state,
        "validation_failures": [item["code"] for item in assessment["failures"]],
        **assessment,
        "signer_untrusted": C2paFailure.SIGNER_UNTRUSTED in assessment["failure_categories"],
    }
    if ai_types:
        codes = ", ".join(sorted({code for code, _ in ai_types}))
        strength = max((AI_SOURCE_TYPES[code] for code, _ in ai_types), key=_rank)
        if not reliable:
            strength = Strength.WEAK
        return _signal(
            Kind.C2PA,
            strength,
            gettext_noop(
                "A C2PA manifest (generator: %(generator)s) declares an AI/algorithmic source: %(types)s."
            ),
            details,
            generator=generator or "?",
            types=codes,
        )
    if named:
        return _signal(
            Kind.C2PA,
            Strength.STRONG if reliable else Strength.WEAK,
            gettext_noop(
                "A C2PA manifest names the AI generator %(name)s (claim generator: %(generator)s)."
            ),
            {**details, "generator_name": named},
            name=named,
            generator=generator or "?",
        )
    return _signal(
        Kind.C2PA,
        Strength.INFO,
        gettext_noop(
            "A C2PA manifest is present (generator: %(generator)s) and declares no AI source."
        ),
        details,
        generator=generator or "?",
    )


def _rank(strength: str) -> int:
    return {Strength.STRONG: 2, Strength.WEAK: 1}.get(strength, 0)


# ---------------------------------------------------------------------------- XMP, PNG text, EXIF

# Above this the pixel-level checks are skipped (metadata is still read): a 12,000-pixel-wide
# frame must not take the worker's memory with it.
MAX_PIXELS = 40_000_000
_XMP_SOURCE_TYPE = re.compile(rb"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
_XMP_CREATOR_TOOL = re.compile(rb"CreatorTool(?:>|=\")([^<\"]{1,200})", re.IGNORECASE)
XMP_SCAN_BYTES = 4 * 1024 * 1024


def _walk(value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key), inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def _xmp_facts(image: Any, data: bytes) -> tuple[set[str], set[str]]:
    """(digital source type codes, creator tools) from XMP: parsed where Pillow can, else a
    bounded byte scan (videos, and images whose XMP Pillow does not expose)."""
    codes: set[str] = set()
    tools: set[str] = set()
    if image is not None:
        try:
            xmp = image.getxmp()
        except Exception:
            xmp = {}
        for key, value in _walk(xmp):
            if key.endswith("DigitalSourceType") and isinstance(value, str):
                codes.add(_source_type_code(value))
            elif key.endswith("CreatorTool") and isinstance(value, str):
                tools.add(value.strip())
    head, tail = (
        data[:XMP_SCAN_BYTES],
        data[-XMP_SCAN_BYTES:] if len(data) > XMP_SCAN_BYTES else b"",
    )
    for chunk in (head, tail):
        if b"xmpmeta" not in chunk and b"DigitalSourceType" not in chunk:
            continue
        for match in _XMP_SOURCE_TYPE.finditer(chunk):
            codes.add(match.group(1).decode("ascii", "replace"))
        for match in _XMP_CREATOR_TOOL.finditer(chunk):
            tools.add(match.group(1).decode("utf-8", "replace").strip())
    return codes, tools


def xmp_signals(image: Any, data: bytes) -> list[Signal]:
    codes, tools = _xmp_facts(image, data)
    signals = []
    ai_codes = sorted(code for code in codes if code in AI_SOURCE_TYPES)
    if ai_codes:
        strength = max((AI_SOURCE_TYPES[code] for code in ai_codes), key=_rank)
        signals.append(
            _signal(
                Kind.IPTC,
                strength,
                gettext_noop("The XMP metadata declares the IPTC digital source type %(types)s."),
                {"digital_source_types": ai_codes, "all_source_types": sorted(codes)},
                types=", ".join(ai_codes),
            )
        )
    elif codes:
        signals.append(
            _signal(
                Kind.IPTC,
                Strength.INFO,
                gettext_noop(
                    "The XMP metadata declares the IPTC digital source type %(types)s, which is not an AI source."
                ),
                {"digital_source_types": [], "all_source_types": sorted(codes)},
                types=", ".join(sorted(codes)),
            )
        )
    for tool in sorted(tools):
        name = generator_named_in(tool)
        if name:
            signals.append(
                _signal(
                    Kind.EXIF_SOFTWARE,
                    Strength.STRONG,
                    gettext_noop('The XMP CreatorTool names the generator %(name)s ("%(value)s").'),
                    {"field": "xmp:CreatorTool", "value": tool[:200], "generator_name": name},
                    name=name,
                    value=tool[:200],
                )
            )
    return signals


# Keys whose presence alone means a generator wrote the file (lower-case).
GENERATOR_TEXT_KEYS = {
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "dream": "InvokeAI",
    "fooocus_scheme": "Fooocus",
}
_A1111_MARKERS = ("Steps:", "Sampler:", "CFG scale:", "Seed:")


def _looks_like_comfyui(value: str) -> bool:
    try:
        graph = json.loads(value)
    except ValueError:
        return False
    text = json.dumps(graph)[:200_000]
    return any(
        marker in text for marker in ('"class_type"', "KSampler", "CheckpointLoader", '"nodes"')
    )


def _text_chunk_signals(text: dict[str, str], field_kind: str) -> list[Signal]:
    """Signals from generator text: PNG tEXt/iTXt chunks, or EXIF UserComment (as 'parameters')."""
    lowered = {str(k).lower(): str(v) for k, v in text.items()}
    found: list[tuple[str, str, str]] = []  # (generator, key, excerpt)
    params = lowered.get("parameters", "")
    if sum(marker in params for marker in _A1111_MARKERS) >= 2:
        found.append(("AUTOMATIC1111 / Stable Diffusion web UI", "parameters", params))
    for key in ("prompt", "workflow"):
        if key in lowered and _looks_like_comfyui(lowered[key]):
            found.append(("ComfyUI", key, lowered[key]))
    for key, name in GENERATOR_TEXT_KEYS.items():
        if key in lowered:
            found.append((name, key, lowered[key]))
    comment = lowered.get("comment", "")
    if lowered.get("software", "").strip().lower() == "novelai" or (
        '"steps"' in comment and '"sampler"' in comment
    ):
        found.append(("NovelAI", "Comment", comment or lowered.get("software", "")))
    software = lowered.get("software", "")
    name = generator_named_in(software) if software else None
    if name and not any(generator == name for generator, _, _ in found):
        found.append((name, "Software", software))
    signals = []
    seen = set()
    for generator, key, value in found:
        if generator in seen:
            continue
        seen.add(generator)
        excerpt = " ".join(value.split())[:300]
        signals.append(
            _signal(
                field_kind,
                Strength.STRONG,
                gettext_noop('Generation metadata of %(name)s found in the "%(key)s" field.'),
                {"generator_name": generator, "field": key, "excerpt": excerpt},
                name=generator,
                key=key,
            )
        )
    return signals


EXIF_SOFTWARE = 0x0131
EXIF_MAKE = 0x010F
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286


def _user_comment(raw: Any) -> str:
    if isinstance(raw, bytes):
        # EXIF UserComment starts with an 8-byte charset code; A1111 writes UNICODE (UTF-16).
        prefix, body = raw[:8], raw[8:]
        if prefix.startswith(b"UNICODE"):
            for encoding in ("utf-16-be", "utf-16-le"):
                text = body.decode(encoding, "replace")
                if "Steps" in text or "steps" in text:
                    return text
            return body.decode("utf-16-be", "replace")
        return (
            body.decode("utf-8", "replace")
            if prefix.startswith(b"ASCII")
            else raw.decode("utf-8", "replace")
        )
    return str(raw or "")


def exif_signals(image: Any) -> list[Signal]:
    try:
        exif = image.getexif()
    except Exception:
        return []
    signals = []
    for tag, label in ((EXIF_SOFTWARE, "Software"), (EXIF_MAKE, "Make")):
        value = exif.get(tag)
        if not value:
            continue
        value = str(value).strip().strip("\x00")
        name = generator_named_in(value)
        if name:
            signals.append(
                _signal(
                    Kind.EXIF_SOFTWARE,
                    Strength.STRONG,
                    gettext_noop(
                        'The EXIF %(field)s field names the generator %(name)s ("%(value)s").'
                    ),
                    {"field": f"EXIF {label}", "value": value[:200], "generator_name": name},
                    field=label,
                    name=name,
                    value=value[:200],
                )
            )
    try:
        comment = _user_comment(exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT))
    except Exception:
        comment = ""
    if comment:
        signals += _text_chunk_signals({"parameters": comment}, Kind.EXIF_SOFTWARE)
    return signals


# ---------------------------------------------------------------------------- SD watermark

SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110
# (name, imwatermark mode, payload, decoder length) as the reference scripts embed them:
# SD 1.x txt2img.py encodes "StableDiffusionV1" as bytes, SD 2.x "SDV2", SDXL a 48-bit message.
SD_WATERMARKS: list[tuple[str, str, Any, int]] = [
    ("Stable Diffusion 1.x", "bytes", b"StableDiffusionV1", 136),
    ("Stable Diffusion 2.x", "bytes", b"SDV2", 32),
    ("Stable Diffusion XL", "bits", [int(bit) for bit in bin(SDXL_MESSAGE)[2:]], 48),
]
# Bit agreement needed. A random 32-bit pattern matches >=31 bits with p ≈ 8e-9; real images
# that carry no mark decode to runs of zeros or ones, far below these.
WATERMARK_STRONG = 0.95
WATERMARK_WEAK = 0.85
WATERMARK_MIN_SIDE = 256  # imwatermark cannot embed below this


def _bits(payload: Any, mode: str) -> list[int]:
    if mode == "bits":
        return [int(b) for b in payload]
    return [int(bit) for byte in payload for bit in f"{byte:08b}"]


def watermark_signals(image: Any) -> list[Signal]:
    try:
        import numpy as np
        from imwatermark import WatermarkDecoder
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("invisible-watermark is not installed; SD watermarks are not checked")
        return []
    width, height = image.size
    if min(width, height) < WATERMARK_MIN_SIDE or width * height > MAX_PIXELS:
        return []
    try:
        rgb = np.asarray(image.convert("RGB"))
    except Exception:
        return []
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    best: tuple[float, str, int] | None = None
    for name, mode, payload, length in SD_WATERMARKS:
        try:
            decoded = WatermarkDecoder(mode, length).decode(bgr, "dwtDct")
        except Exception:
            continue
        expected = _bits(payload, mode)
        got = _bits(decoded, "bits" if mode == "bits" else "bytes")
        if len(got) != len(expected):
            continue
        agreement = sum(a == b for a, b in zip(got, expected, strict=True)) / len(expected)
        if best is None or agreement > best[0]:
            best = (agreement, name, length)
    if best is None:
        return []
    agreement, name, length = best
    details = {"watermark": name, "bit_agreement": round(agreement, 3), "bits": length}
    if agreement >= WATERMARK_STRONG:
        return [
            _signal(
                Kind.SD_WATERMARK,
                Strength.STRONG,
                gettext_noop(
                    "The invisible watermark of %(name)s is present (%(percent)s%% of %(bits)s bits match)."
                ),
                details,
                name=name,
                percent=round(agreement * 100),
                bits=length,
            )
        ]
    if agreement >= WATERMARK_WEAK and length >= 48:
        return [
            _signal(
                Kind.SD_WATERMARK,
                Strength.WEAK,
                gettext_noop(
                    "A damaged copy of the %(name)s invisible watermark may be present (%(percent)s%% of %(bits)s bits match)."
                ),
                details,
                name=name,
                percent=round(agreement * 100),
                bits=length,
            )
        ]
    return []


# ---------------------------------------------------------------------------- entry point


def _open_image(data: bytes) -> Any:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.size  # noqa: B018  (forces the header parse)
        return image
    except Exception:
        return None


def _png_text(image: Any) -> dict[str, str]:
    if getattr(image, "format", "") != "PNG":
        return {}
    width, height = image.size
    # `.text` reads chunks after the image data too, which means decoding it: only when small.
    if width * height <= MAX_PIXELS:
        try:
            return {str(k): str(v) for k, v in image.text.items()}
        except Exception:
            pass
    return {str(k): str(v) for k, v in image.info.items() if isinstance(v, str)}


def provenance_signals(
    data: bytes, media_type: str = "", *, trust_anchors_pem: str | None = None
) -> list[Signal]:
    """Every provenance signal found in the file, strongest first. Never raises."""
    readers: list[Callable[[], list[Signal]]] = [
        lambda: c2pa_signals(data, media_type, trust_anchors_pem=trust_anchors_pem)
    ]
    image = _open_image(data) if not media_type.startswith("video/") else None
    readers.append(lambda: xmp_signals(image, data))
    if image is not None:
        readers.append(lambda: _text_chunk_signals(_png_text(image), Kind.PNG_TEXT))
        readers.append(lambda: exif_signals(image))
        readers.append(lambda: watermark_signals(image))
    signals: list[Signal] = []
    for reader in readers:
        try:
            signals.extend(reader())
        except Exception:
            log.exception("a provenance reader failed; its signal is left out")
    order = {Strength.STRONG: 0, Strength.WEAK: 1, Strength.INFO: 2}
    return sorted(signals, key=lambda s: order.get(s.strength, 3))


# Which reader needs which module; a missing one means the check did not run.
READER_MODULES = {
    Kind.C2PA: ("c2pa", "c2pa-python"),
    Kind.IPTC: ("defusedxml", "defusedxml"),
    Kind.SD_WATERMARK: ("imwatermark", "invisible-watermark (with PyWavelets and OpenCV)"),
}


def provenance_unavailable() -> list[dict[str, str]]:
    """The checks this process cannot run because a package is missing, so "no signal" is
    never claimed for a check that did not happen."""
    import importlib

    missing = []
    for kind, (module, package) in READER_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append({"kind": kind, "package": package})
        except Exception as exc:  # e.g. OpenCV present but broken
            missing.append({"kind": kind, "package": f"{package} ({type(exc).__name__})"})
    return missing


def c2pa_manifest_absent(data: bytes, media_type: str, signals: Iterable[Signal]) -> bool:
    """True only when the C2PA reader parsed the file and found no manifest in it; False
    when there is one (a C2PA signal), when the reader is missing, or when it could not
    parse the file or does not support its type (then nothing can be said). Recorded on a
    detection run so that "no manifest" is stated only when it was checked."""
    if any(signal.kind == Kind.C2PA for signal in signals):
        return False
    try:
        import c2pa
    except ImportError:  # pragma: no cover - declared dependency
        return False
    try:
        reader = c2pa.Reader(media_type or None, io.BytesIO(data), context=_c2pa_context(None))
    except Exception as exc:
        return "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc)
    reader.close()
    return False


def has_ai_signal(signals: Iterable[Signal | dict[str, Any]]) -> bool:
    for signal in signals:
        strength = signal.strength if isinstance(signal, Signal) else signal.get("strength")
        if strength in (Strength.STRONG, Strength.WEAK):
            return True
    return False
