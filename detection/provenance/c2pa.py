"""C2PA manifests (Content Credentials), read with c2pa-python and never fetched remotely.

What a manifest declares (claim generator, actions, IPTC `digitalSourceType`) becomes one
signal; whether it can be relied on comes from its validation: a broken claim signature,
content altered after signing, a signer or CAWG identity not on the configured trust list.
Each finding about validity is one translatable sentence kept in the signal's details.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from detection.provenance.signal import (
    Kind,
    Signal,
    Strength,
    gettext_noop,
    make_signal,
    strength_rank,
)
from detection.provenance.vocabulary import AI_SOURCE_TYPES, generator_named_in, source_type_code

log = logging.getLogger(__name__)

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
                make_signal(
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
    all_actions: list[Any] = []
    for label, manifest in manifests.items():
        actions = _c2pa_actions(manifest)
        all_actions.extend({**action, "manifest": label} for action in actions)
        for action in actions:
            code = (
                source_type_code(action["digital_source_type"])
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
        strength = max((AI_SOURCE_TYPES[code] for code, _ in ai_types), key=strength_rank)
        if not reliable:
            strength = Strength.WEAK
        return make_signal(
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
        return make_signal(
            Kind.C2PA,
            Strength.STRONG if reliable else Strength.WEAK,
            gettext_noop(
                "A C2PA manifest names the AI generator %(name)s (claim generator: %(generator)s)."
            ),
            {**details, "generator_name": named},
            name=named,
            generator=generator or "?",
        )
    return make_signal(
        Kind.C2PA,
        Strength.INFO,
        gettext_noop(
            "A C2PA manifest is present (generator: %(generator)s) and declares no AI source."
        ),
        details,
        generator=generator or "?",
    )


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
