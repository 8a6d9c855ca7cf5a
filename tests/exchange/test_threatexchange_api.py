"""The shipped python-threatexchange extension (integrations/threatexchange_agencyguard) on its
own, without a server: page checks, the delta and checkpoint it yields, the mapping to
threatexchange's signal types, credentials. The round trip with threatexchange's CLI against
a running AgencyGuard is tests/exchange/test_threatexchange_cli.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threatexchange.exchanges.auth import SignalExchangeAPIInvalidAuthException
from threatexchange.exchanges.fetch_state import SignalOpinionCategory
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange_agencyguard import (
    AgencyGuardCheckpoint,
    AgencyGuardCollabConfig,
    AgencyGuardCredentials,
    AgencyGuardFeedError,
    AgencyGuardSignalExchangeAPI,
)
from threatexchange_agencyguard.api import page_parse

from cases.matching.exchange_format import FORMAT, SIGNATURE_HEADER, feed_dumps, feed_sign
from tests.matching.test_vpdq import needs_vpdq  # noqa: F401

SIGNING = "s" * 64
A, B, C = "a" * 64, "b" * 64, "c" * 64
PDQ_A = "f" * 64


def _add(
    signal_id: str, seq: int, pdq: list[str] | None = None, vpdq: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": signal_id,
        "seq": seq,
        "op": "add",
        "sha256": signal_id,
        "md5": "d" * 32,
        "pdq": pdq if pdq is not None else [PDQ_A],
        "vpdq": vpdq or [],
        "labels": ["deepfake", "sexual"],
    }


def _page(cursor: int, entries: list[dict[str, Any]], *, next_cursor: int, more: bool) -> bytes:
    return feed_dumps(
        {
            "format": FORMAT,
            "cursor": cursor,
            "next_cursor": next_cursor,
            "has_more": more,
            "signals": entries,
        }
    )


class _Response:
    def __init__(self, body: bytes, signature: str, status: int = 200) -> None:
        self.content, self.status_code, self.text = body, status, body.decode()
        self.headers = {SIGNATURE_HEADER: signature} if signature else {}


class _Session:
    """Serves the pages it is given by cursor, signed with SIGNING unless told otherwise."""

    def __init__(self, pages: dict[int, bytes], signatures: dict[int, str] | None = None):
        self.pages, self.signatures, self.asked = pages, signatures or {}, []  # type: ignore[var-annotated]

    def get(self, url: str, *, params: dict[str, Any], headers: dict[str, str], **_: Any) -> Any:
        self.asked.append((url, params, headers))
        body = self.pages[params["cursor"]]
        return _Response(body, self.signatures.get(params["cursor"], feed_sign(SIGNING, body)))


def _api(session: _Session) -> AgencyGuardSignalExchangeAPI:
    collab = AgencyGuardCollabConfig(
        name="aurora", enabled=True, feed_url="https://aurora.example/api/exchange/bank/"
    )
    credentials = AgencyGuardCredentials(api_key="agx_p_secret", signing_key=SIGNING)
    return AgencyGuardSignalExchangeAPI(collab, credentials, session=session)  # type: ignore[arg-type]


def test_it_is_a_loadable_threatexchange_extension() -> None:
    manifest = ThreatExchangeExtensionManifest.load_from_module_name("threatexchange_agencyguard")
    assert manifest.apis == (AgencyGuardSignalExchangeAPI,)
    assert AgencyGuardSignalExchangeAPI.get_name() == "agency_guard"
    assert AgencyGuardCollabConfig(name="x", enabled=True).api == "agency_guard"


def test_fetch_iter_yields_a_delta_per_page_from_the_checkpoint() -> None:
    session = _Session(
        {
            4: _page(4, [_add(A, 5), _add(B, 6)], next_cursor=6, more=True),
            6: _page(6, [{"id": A, "seq": 7, "op": "delete"}], next_cursor=7, more=False),
        }
    )
    deltas = list(_api(session).fetch_iter([PdqSignal], AgencyGuardCheckpoint(cursor=4)))
    assert [d.checkpoint.cursor for d in deltas] == [6, 7]
    assert set(deltas[0].updates) == {A, B} and deltas[1].updates == {A: None}
    url, params, headers = session.asked[0]
    assert url == "https://aurora.example/api/exchange/bank/"
    assert params == {"cursor": 4, "limit": 200}
    assert headers == {"Authorization": "Bearer agx_p_secret"}
    # threatexchange's own in-memory merge applies the delete.
    state: dict[str, Any] = {}
    for delta in deltas:
        AgencyGuardSignalExchangeAPI.naive_fetch_merge(state, delta.updates)
    assert set(state) == {B}


def test_a_page_with_a_bad_signature_raises_and_yields_nothing() -> None:
    body = _page(0, [_add(A, 1)], next_cursor=1, more=False)
    for signature in ("", feed_sign("another key", body), "sha256=00"):
        session = _Session({0: body}, {0: signature})
        with pytest.raises(AgencyGuardFeedError, match="signature"):
            next(_api(session).fetch_iter([PdqSignal], None))


def test_a_refusal_by_the_server_raises() -> None:
    class Refusing(_Session):
        def get(self, url: str, **kwargs: Any) -> Any:
            return _Response(b'{"detail":"Invalid key."}', "", status=403)

    with pytest.raises(AgencyGuardFeedError, match="HTTP 403"):
        next(_api(Refusing({})).fetch_iter([PdqSignal], None))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (feed_dumps({"format": "other/1"}), "not agencyguard-bank/1"),
        (_page(3, [], next_cursor=3, more=False), "answers cursor 3"),
        (_page(0, [], next_cursor=0, more=True), "does not advance"),
        (_page(0, [_add(A, 2), _add(B, 1)], next_cursor=2, more=False), "out of order"),
        (_page(0, [_add(A, 5)], next_cursor=2, more=False), "out of order"),
        (_page(0, [_add("A" * 64, 1)], next_cursor=1, more=False), "id is not a SHA-256"),
        (_page(0, [_add(A, 1, pdq=["xyz"])], next_cursor=1, more=False), "pdq is malformed"),
        (_page(0, [{"id": A, "seq": 1, "op": "edit"}], next_cursor=1, more=False), "Unknown op"),
        (_page(0, [_add(A, 1, vpdq=["x"])], next_cursor=1, more=False), "vpdq is malformed"),
        (_page(0, [_add(A, 1, vpdq=[f"{C},101,0.0"])], next_cursor=1, more=False), "vpdq"),
        (_page(0, [_add(A, 1, vpdq=[f"{C},100,-1.0"])], next_cursor=1, more=False), "vpdq"),
        (_page(0, [_add(A, 1, vpdq=[f"{C},100,1e999"])], next_cursor=1, more=False), "vpdq"),
    ],
)
def test_a_malformed_page_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(AgencyGuardFeedError, match=message):
        page_parse(body, cursor=0)


def test_signals_map_to_pdq_md5_and_sha256_with_labels_as_a_positive_opinion() -> None:
    updates, _, _ = page_parse(
        _page(0, [_add(A, 1), _add(B, 2, pdq=[PDQ_A, "e" * 64])], next_cursor=2, more=False),
        cursor=0,
    )
    fetched = {k: v for k, v in updates.items() if v is not None}
    collab = AgencyGuardCollabConfig(name="aurora", enabled=True, feed_url="https://x/")
    converted = AgencyGuardSignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal, VideoMD5Signal, VideoSHA256Signal], collab, fetched
    )
    assert set(converted[PdqSignal]) == {PDQ_A, "e" * 64}
    # One PDQ shared by two signals: one entry naming both.
    assert converted[PdqSignal][PDQ_A].signal_ids == {A, B}
    assert set(converted[VideoSHA256Signal]) == {A, B}
    assert set(converted[VideoMD5Signal]) == {"d" * 32}
    (opinion,) = converted[PdqSignal][PDQ_A].get_as_opinions()
    assert opinion.category == SignalOpinionCategory.POSITIVE_CLASS
    assert opinion.tags == {"deepfake", "sexual"}
    # A platform that asks only for PDQ gets only PDQ.
    only_pdq = AgencyGuardSignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal], collab, fetched
    )
    assert set(only_pdq) == {PdqSignal}


@pytest.mark.usefixtures("needs_vpdq")
def test_a_video_frame_set_maps_to_one_vpdq_signal_that_hma_matches() -> None:
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature, json_to_vpdq
    from threatexchange_agencyguard.api import VPDQSignal as Mapped

    assert Mapped is VPDQSignal
    features = [f"{h},100,{float(i):.3}" for i, h in enumerate((PDQ_A, "e" * 64, "0" * 64))]
    updates, _, _ = page_parse(
        _page(0, [_add(A, 1, vpdq=features), _add(B, 2)], next_cursor=2, more=False), cursor=0
    )
    fetched = {k: v for k, v in updates.items() if v is not None}
    collab = AgencyGuardCollabConfig(name="aurora", enabled=True, feed_url="https://x/")
    converted = AgencyGuardSignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal, VPDQSignal], collab, fetched
    )
    # One signal for the whole frame set (only A has one), in threatexchange's own format.
    [(signal_str, meta)] = converted[VPDQSignal].items()
    assert meta.signal_ids == {A} and meta.labels == {"deepfake", "sexual"}
    assert VPDQSignal.validate_signal_str(signal_str) == signal_str
    assert [str(f) for f in json_to_vpdq(signal_str)] == features
    assert all(isinstance(f, VpdqCompactFeature) for f in json_to_vpdq(signal_str))
    # HMA's comparison: the same frame set matches, threatexchange's example video does not.
    assert VPDQSignal.compare_hash(signal_str, signal_str).match
    third = VPDQSignal.get_examples()[0]
    assert not VPDQSignal.compare_hash(json.dumps(features[:1]), third).match
    # A platform without the vPDQ type enabled gets none.
    assert VPDQSignal not in AgencyGuardSignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal], collab, fetched
    )


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TX_AGENCYGUARD_KEYS", f"agx_p_secret,{SIGNING}")
    monkeypatch.setenv("HOME", "/nonexistent")
    credentials = AgencyGuardCredentials.get(AgencyGuardSignalExchangeAPI)
    assert (credentials.api_key, credentials.signing_key) == ("agx_p_secret", SIGNING)
    monkeypatch.setenv("TX_AGENCYGUARD_KEYS", "not-a-key")
    with pytest.raises(SignalExchangeAPIInvalidAuthException):
        AgencyGuardCredentials.get(AgencyGuardSignalExchangeAPI)
