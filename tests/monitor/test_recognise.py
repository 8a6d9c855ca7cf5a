"""Alias recognition: normalised names at the word boundaries of their script."""

from __future__ import annotations

import pytest

from cases.intake.monitor import recognise as recognise_module
from cases.intake.monitor.parsers import Item
from cases.intake.monitor.recognise import (
    AliasIndex,
    ArtistNames,
    RecogniseContext,
    Recognition,
    recognise,
    recogniser_register,
)

SEORI = ArtistNames(1, ("Seori", "서리", "Kim Seo-ri", "Seo-ri", "セオリ"))
IU = ArtistNames(2, ("IU", "아이유", "", "X"))
CONTEXT = RecogniseContext(agency_id=1, aliases=AliasIndex.build([SEORI, IU]))


def _reasons(title: str = "", text: str = "", url: str = "https://x.example/p") -> list[str]:
    return [r.reason for r in recognise(Item(url=url, title=title, text=text), CONTEXT)]


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("Seori deepfake", "alias 'Seori' in title"),
        ("SEORI!!", "alias 'Seori' in title"),
        ("\uff53\uff45\uff4f\uff52\uff49 (full width)", "alias 'Seori' in title"),  # NFKC
        ("#Seori_fake", "alias 'Seori' in title"),
        ("kim seo ri edit", "alias 'Kim Seo-ri' in title"),  # dash or space, any case
        ("서리가 나온 영상", "alias '서리' in title"),  # a particle after the name
        ("서리의 합성", "alias '서리' in title"),
        ("[서리] 영상", "alias '서리' in title"),
        ("セオリの動画", "alias 'セオリ' in title"),  # no word boundaries in Japanese
        ("IU live", "alias 'IU' in title"),
        ("아이유님", "alias '아이유' in title"),
    ],
)
def test_a_name_at_a_word_boundary_is_recognised(title: str, reason: str) -> None:
    assert _reasons(title=title) == [reason]


@pytest.mark.parametrize(
    "title",
    [
        "Seoris and friends",  # inside a longer Latin word
        "theseori",
        "김서리 인터뷰",  # inside a longer Hangul word
        "서리즈",
        "fiuu",
        "X marks",  # a one-letter alias is never matched
        "",
    ],
)
def test_a_name_inside_a_longer_word_is_not(title: str) -> None:
    assert _reasons(title=title) == []


def test_the_first_field_with_any_name_of_the_artist_is_the_reason() -> None:
    assert _reasons(title="nothing", text="서리 clip", url="https://x.example/seori") == [
        "alias '서리' in text"
    ]
    assert _reasons(url="https://x.example/v/%EC%84%9C%EB%A6%AC-1") == ["alias '서리' in URL"]
    assert _reasons(url="https://x.example/watch/seori_leak") == ["alias 'Seori' in URL"]


def test_each_artist_is_named_once_with_its_own_reason() -> None:
    found = recognise(Item(url="https://x.example/", title="Seori and IU, 서리"), CONTEXT)
    assert found == [
        Recognition(reason="alias 'Seori' in title", artist_id=1),
        Recognition(reason="alias 'IU' in title", artist_id=2),
    ]


def test_a_registered_recogniser_adds_its_reasons(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Intake's own recogniser only: the ones contexts above register (the exchange's partner
    # media, cases/wiring.py) read the database, which this test has none of.
    monkeypatch.setattr(recognise_module, "RECOGNISERS", [recognise_module.recognise_alias])

    def by_media(item: Item, context: RecogniseContext) -> list[Recognition]:
        return [Recognition(reason="PDQ distance 12 to reference #31")] if item.media else []

    recogniser_register(by_media)
    recogniser_register(by_media)  # once only
    item = Item(url="https://x.example/", title="Seori", media=("https://x.example/1.jpg",))
    assert [r.reason for r in recognise(item, CONTEXT)] == [
        "alias 'Seori' in title",
        "PDQ distance 12 to reference #31",
    ]
