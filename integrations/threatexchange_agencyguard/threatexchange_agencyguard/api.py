"""An AgencyGuard agency's bank as a python-threatexchange SignalExchangeAPI.

The feed (AgencyGuard's docs/exchange.md): `GET <feed_url>?cursor=<n>&limit=<m>` with
`Authorization: Bearer <api key>`; each page is JSON signed with HMAC-SHA256 over the exact
bytes served, in `X-AgencyGuard-Signature: sha256=<hex>`. Entries are keyed by the signal's
id (the media's SHA-256): `op: add` carries the hashes and labels, `op: delete` removes it.

Mapping: one page is one `FetchDelta` (id -> `AgencyGuardSignal`, or None for a delete);
the cursor is the checkpoint; PDQ hashes map to `PdqSignal`, a video's vPDQ frames (already
threatexchange's `VpdqCompactFeature` strings) to one `VPDQSignal` (where the vpdq extension
loads: it needs Meta's `vpdq` package), MD5 to `VideoMD5Signal`, SHA-256 to
`VideoSHA256Signal`; labels are the tags of a positive `SignalOpinion`.

No `from __future__ import annotations` here: threatexchange's CLI builds its
`config collab` options from the config dataclass's field types, which must be real types.
A page whose signature, format, cursor or entries are wrong raises `AgencyGuardFeedError`
before it is yielded, so nothing of it is merged and the checkpoint stays."""

import hashlib
import hmac
import json
import re
import typing as t
from dataclasses import dataclass, field

import requests
from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType

try:
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
except ImportError:  # the extension imports Meta's `vpdq` package, an optional install
    VPDQSignal = None  # type: ignore[assignment,misc]

API_NAME = "agency_guard"
FORMAT = "agencyguard-bank/1"
SIGNATURE_HEADER = "X-AgencyGuard-Signature"
DEFAULT_PAGE_LIMIT = 200
TIMEOUT_S = 30.0

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# threatexchange's VpdqCompactFeature string: "<64 hex>,<quality 0-100>,<seconds>".
_VPDQ_FEATURE = re.compile(r"^[0-9a-f]{64},(100|[0-9]{1,2}),([0-9.e+-]{1,24})$")
MAX_VPDQ_PER_SIGNAL = 3600


class AgencyGuardFeedError(Exception):
    """A page that must not be merged: refused by the server, bad signature, not the format."""


@dataclass
class AgencyGuardCollabConfig(CollaborationConfigBase):
    """One agency's bank: where to read it. The keys are credentials, not config."""

    api: str = field(init=False, default=API_NAME)
    feed_url: str = field(
        default="",
        metadata={"help": "the bank's URL, e.g. https://agency.example/api/exchange/bank/"},
    )
    page_limit: int = field(
        default=DEFAULT_PAGE_LIMIT, metadata={"help": "signals per page (1 to 1000)"}
    )


@dataclass
class AgencyGuardCredentials(auth.CredentialHelper):
    """The two secrets the agency issued to this platform: `<api key>,<signing key>`."""

    ENV_VARIABLE: t.ClassVar[str] = "TX_AGENCYGUARD_KEYS"
    FILE_NAME: t.ClassVar[str] = "~/.tx_agencyguard_keys"

    api_key: str
    signing_key: str

    @classmethod
    def _from_str(cls, s: str) -> "AgencyGuardCredentials":
        api_key, sep, signing_key = s.strip().partition(",")
        if not sep:
            raise ValueError("Expected '<api key>,<signing key>'.")
        return cls(api_key=api_key.strip(), signing_key=signing_key.strip())

    def _are_valid(self) -> bool:
        return self.api_key.startswith("agx_") and bool(self.signing_key)


@dataclass
class AgencyGuardCheckpoint(state.FetchCheckpointBase):
    """The feed's cursor: every change after it is still to be read."""

    cursor: int = 0


@dataclass
class AgencyGuardSignal:
    """One signal of the bank as the feed serves it (the record kept by fetch)."""

    id: str
    seq: int
    sha256: str
    md5: str = ""
    pdq: list[str] = field(default_factory=list)
    vpdq: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


@dataclass
class AgencyGuardSignalMetadata(state.FetchedSignalMetadata):
    """What a match says: which of the agency's signals, and its labels."""

    signal_ids: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        # Every signal of the bank is a human-confirmed fake: a positive opinion.
        return [state.SignalOpinion(False, state.SignalOpinionCategory.POSITIVE_CLASS, self.labels)]


def feed_sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def feed_verify(key: str, body: bytes, signature: str) -> bool:
    """Constant-time compare of the expected signature with the one received."""
    return hmac.compare_digest(feed_sign(key, body).encode(), signature.strip().encode())


def _hex_list(raw: t.Any, pattern: re.Pattern[str], what: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(h, str) and pattern.match(h) for h in raw):
        raise AgencyGuardFeedError(f"An entry's {what} is malformed.")
    return list(raw)


def _vpdq_list(raw: t.Any) -> list[str]:
    """The entry's vPDQ frames, each checked as VpdqCompactFeature.from_str would."""
    if not isinstance(raw, list) or len(raw) > MAX_VPDQ_PER_SIGNAL:
        raise AgencyGuardFeedError("An entry's vpdq is malformed.")
    for feature in raw:
        found = _VPDQ_FEATURE.match(feature) if isinstance(feature, str) else None
        try:
            seconds = float(found[2]) if found else -1.0
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < float("inf"):
            raise AgencyGuardFeedError("An entry's vpdq is malformed.")
    return list(raw)


def vpdq_signal_str(features: t.Sequence[str]) -> str:
    """A VPDQSignal's signal string: the JSON list of the features (as vpdq_to_json)."""
    return json.dumps(list(features))


def page_parse(
    body: bytes, *, cursor: int
) -> tuple[dict[str, AgencyGuardSignal | None], int, bool]:
    """The page's updates (id -> signal, None to delete), next cursor and has_more, or
    AgencyGuardFeedError. Call only after the signature is verified."""
    try:
        page = json.loads(body)
    except ValueError as exc:
        raise AgencyGuardFeedError("The page is not JSON.") from exc
    if not isinstance(page, dict) or page.get("format") != FORMAT:
        raise AgencyGuardFeedError(f"The page is not {FORMAT}.")
    if page.get("cursor") != cursor:
        raise AgencyGuardFeedError(f"The page answers cursor {page.get('cursor')!r}, not {cursor}.")
    next_cursor, has_more, entries = (
        page.get("next_cursor"),
        page.get("has_more"),
        page.get("signals"),
    )
    if not isinstance(next_cursor, int) or isinstance(next_cursor, bool) or next_cursor < cursor:
        raise AgencyGuardFeedError("The page's next_cursor goes backwards.")
    if not isinstance(has_more, bool) or not isinstance(entries, list):
        raise AgencyGuardFeedError("The page lacks has_more or signals.")
    if has_more and next_cursor == cursor:
        raise AgencyGuardFeedError("The page has more but does not advance.")
    updates: dict[str, AgencyGuardSignal | None] = {}
    last_seq = cursor
    for raw in entries:
        if not isinstance(raw, dict):
            raise AgencyGuardFeedError("An entry is not an object.")
        signal_id, seq, op = raw.get("id"), raw.get("seq"), raw.get("op")
        if not isinstance(signal_id, str) or not _HEX64.match(signal_id):
            raise AgencyGuardFeedError("An entry's id is not a SHA-256.")
        if not isinstance(seq, int) or isinstance(seq, bool) or not last_seq < seq <= next_cursor:
            raise AgencyGuardFeedError("An entry's seq is out of order.")
        last_seq = seq
        if op == "delete":
            updates[signal_id] = None
            continue
        if op != "add":
            raise AgencyGuardFeedError(f"Unknown op {op!r}.")
        sha256, md5 = raw.get("sha256"), raw.get("md5", "")
        if not isinstance(sha256, str) or not _HEX64.match(sha256):
            raise AgencyGuardFeedError("An entry's sha256 is malformed.")
        if not isinstance(md5, str) or (md5 and not _HEX32.match(md5)):
            raise AgencyGuardFeedError("An entry's md5 is malformed.")
        labels = raw.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise AgencyGuardFeedError("An entry's labels are malformed.")
        updates[signal_id] = AgencyGuardSignal(
            id=signal_id,
            seq=seq,
            sha256=sha256,
            md5=md5,
            pdq=_hex_list(raw.get("pdq", []), _HEX64, "pdq"),
            vpdq=_vpdq_list(raw.get("vpdq", [])),
            labels=list(labels),
        )
    return updates, next_cursor, has_more


class AgencyGuardSignalExchangeAPI(
    auth.SignalExchangeWithAuth[AgencyGuardCollabConfig, AgencyGuardCredentials],
    SignalExchangeAPI[
        AgencyGuardCollabConfig,
        AgencyGuardCheckpoint,
        AgencyGuardSignalMetadata,
        str,
        AgencyGuardSignal,
    ],
):
    """Reads one agency's bank, page by page from the kept cursor, verifying every page."""

    def __init__(
        self,
        collab: AgencyGuardCollabConfig,
        credentials: AgencyGuardCredentials,
        session: requests.Session | None = None,
    ) -> None:
        if not collab.feed_url:
            raise ValueError(f"Collab {collab.name!r} has no feed_url.")
        self.collab = collab
        self.credentials = credentials
        self.session = session or requests.Session()

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[AgencyGuardCollabConfig]:
        return AgencyGuardCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[AgencyGuardCheckpoint]:
        return AgencyGuardCheckpoint

    @staticmethod
    def get_record_cls() -> type[AgencyGuardSignalMetadata]:
        return AgencyGuardSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[AgencyGuardCredentials]:
        return AgencyGuardCredentials

    @classmethod
    def for_collab(
        cls,
        collab: AgencyGuardCollabConfig,
        credentials: AgencyGuardCredentials | None = None,
    ) -> "AgencyGuardSignalExchangeAPI":
        return cls(collab, credentials or AgencyGuardCredentials.get(cls))

    def fetch_page(self, cursor: int) -> tuple[dict[str, AgencyGuardSignal | None], int, bool]:
        """One verified page after `cursor`, or AgencyGuardFeedError."""
        try:
            response = self.session.get(
                self.collab.feed_url,
                params={"cursor": cursor, "limit": self.collab.page_limit},
                headers={"Authorization": f"Bearer {self.credentials.api_key}"},
                timeout=TIMEOUT_S,
                # The key goes only to the URL configured, never where a redirect points.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise AgencyGuardFeedError(f"The bank could not be reached: {exc}") from exc
        if response.status_code != 200:
            raise AgencyGuardFeedError(
                f"The bank answered HTTP {response.status_code}: {response.text[:200]}"
            )
        signature = response.headers.get(SIGNATURE_HEADER, "")
        if not signature or not feed_verify(
            self.credentials.signing_key, response.content, signature
        ):
            raise AgencyGuardFeedError("The page's signature does not verify; refused.")
        return page_parse(response.content, cursor=cursor)

    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: AgencyGuardCheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[str, AgencyGuardSignal, AgencyGuardCheckpoint]]:
        cursor = checkpoint.cursor if checkpoint is not None else 0
        while True:
            updates, next_cursor, has_more = self.fetch_page(cursor)
            yield state.FetchDelta(updates, AgencyGuardCheckpoint(cursor=next_cursor))
            if not has_more:
                return
            cursor = next_cursor

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: t.Sequence[type[SignalType]],
        collab: AgencyGuardCollabConfig,
        fetched: t.Mapping[str, AgencyGuardSignal],
    ) -> dict[type[SignalType], dict[str, AgencyGuardSignalMetadata]]:
        ret: dict[type[SignalType], dict[str, AgencyGuardSignalMetadata]] = {}

        def add(s_type: type[SignalType], value: str, signal: AgencyGuardSignal) -> None:
            if s_type not in signal_types or not value:
                return
            # Two signals can share a hash (a PDQ of two near-identical fakes): one entry
            # that names both and carries the labels of both.
            meta = ret.setdefault(s_type, {}).setdefault(value, AgencyGuardSignalMetadata())
            meta.signal_ids.add(signal.id)
            meta.labels.update(signal.labels)

        for signal in fetched.values():
            if signal is None:
                continue
            for pdq in signal.pdq:
                add(PdqSignal, pdq, signal)
            if VPDQSignal is not None and signal.vpdq:
                # The whole frame set is one signal: HMA compares videos frame-set to
                # frame-set (80% of the query's frames), never by single frames.
                add(VPDQSignal, vpdq_signal_str(signal.vpdq), signal)
            # Byte hashes: they match only the same file, which threatexchange hashes as
            # video MD5/SHA-256 (it has no photo byte-hash type); images match by PDQ.
            add(VideoMD5Signal, signal.md5, signal)
            add(VideoSHA256Signal, signal.sha256, signal)
        return ret
