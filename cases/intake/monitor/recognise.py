"""Is a watched source's item about one of the agency's artists? Pure functions.

An item is recognised by a list of recognisers (RECOGNISERS), each a function
`(item, context) -> [Recognition]`. Intake ships the alias recogniser; a context above
intake (matching: PDQ/vPDQ against reference media and partner banks) adds its own with
`recogniser_register` from its AppConfig or cases/wiring.py, so intake never imports it.

Alias matching: names and text are normalised (NFKC, casefold, runs of spaces, dashes and
underscores as one space) and an alias matches only at word boundaries of its own script:
a Latin alias not inside a longer Latin word ("Seori" is not found in "Seoris"), a Hangul
alias not inside a longer Hangul word, except for the particles Korean attaches to a name
("서리가", "서리의" are "서리"; "김서리" is not).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from cases.intake.monitor.parsers import Item

MIN_ALIAS_LENGTH = 2
_LATIN = "0-9a-z\u00c0-\u024f"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"
# Particles written straight after a name, longest first so the alternation prefers them.
_PARTICLES = sorted(
    [
        "이",
        "가",
        "은",
        "는",
        "을",
        "를",
        "의",
        "에",
        "에게",
        "에서",
        "와",
        "과",
        "도",
        "만",
        "랑",
        "이랑",
        "한테",
        "로",
        "으로",
        "님",
        "씨",
        "야",
        "아",
        "이다",
        "이가",
        "께서",
    ],
    key=len,
    reverse=True,
)
_SEPARATORS = re.compile(r"[\s\-_]+")
_URL_SEPARATORS = re.compile(r"[/\-_.+=&?#%~:]+")


def normalise(text: str) -> str:
    """NFKC, casefolded, separators as single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SEPARATORS.sub(" ", folded).strip()


def _script(char: str) -> str:
    if re.match(f"[{_LATIN}]", char):
        return "latin"
    if re.match(f"[{_HANGUL}]", char):
        return "hangul"
    return "other"


def alias_pattern(alias: str) -> re.Pattern[str] | None:
    """The pattern of one alias at its scripts' word boundaries; None for a too-short one."""
    norm = normalise(alias)
    if len(norm.replace(" ", "")) < MIN_ALIAS_LENGTH:
        return None
    body = r"[\s\-_]+".join(re.escape(part) for part in norm.split(" "))
    left = {"latin": f"(?<![{_LATIN}])", "hangul": f"(?<![{_HANGUL}])"}.get(_script(norm[0]), "")
    right = {
        "latin": f"(?![{_LATIN}])",
        "hangul": f"(?:{'|'.join(_PARTICLES)})?(?![{_HANGUL}])",
    }.get(_script(norm[-1]), "")
    return re.compile(left + body + right)


@dataclass(frozen=True)
class ArtistNames:
    """An artist's names as the roster has them: stage name, Hangul, Latin, aliases."""

    artist_id: int
    names: tuple[str, ...]


@dataclass
class AliasIndex:
    """Compiled patterns of every name of every artist, built once per poll."""

    # (artist id, the name as the roster has it, its normalised form, its pattern)
    patterns: list[tuple[int, str, str, re.Pattern[str]]] = field(default_factory=list)

    @classmethod
    def build(cls, artists: Iterable[ArtistNames]) -> AliasIndex:
        index = cls()
        for artist in artists:
            seen: set[str] = set()
            for name in artist.names:
                name = (name or "").strip()
                pattern = alias_pattern(name) if name else None
                if pattern is None or pattern.pattern in seen:
                    continue
                seen.add(pattern.pattern)
                index.patterns.append((artist.artist_id, name, normalise(name), pattern))
        return index


@dataclass(frozen=True)
class Recognition:
    """One reason an item is about an artist ("alias 'Seori' in title"). `strong`: a close
    match of the item's media (docs/monitor.md), which a source may want captured."""

    reason: str
    artist_id: int | None = None
    strong: bool = False


@dataclass
class RecogniseContext:
    """What recognisers may use: the agency and its alias index (more for later ones)."""

    agency_id: int
    aliases: AliasIndex


Recogniser = Callable[[Item, RecogniseContext], list[Recognition]]


def url_words(url: str) -> str:
    """The words of a URL without its scheme (slugs and query values), for matching."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return _URL_SEPARATORS.sub(" ", unquote(f"{parts.netloc}{parts.path}?{parts.query}"))


def recognise_alias(item: Item, context: RecogniseContext) -> list[Recognition]:
    """An artist's name in the title, the text or the URL (the first field that has it)."""
    fields = [("title", normalise(item.title)), ("text", normalise(item.text))]
    fields.append(("URL", normalise(url_words(item.url))))
    by_artist: dict[int, list[tuple[str, re.Pattern[str]]]] = {}
    joined = "\n".join(text for _label, text in fields)
    for artist_id, name, plain, pattern in context.aliases.patterns:
        # A name can only match where its normalised form occurs: a substring test (fast)
        # before the boundary pattern (slow) for the few names that pass it.
        if plain in joined:
            by_artist.setdefault(artist_id, []).append((name, pattern))
    found: list[Recognition] = []
    for artist_id, names in by_artist.items():
        hit = next(
            (
                (name, label)
                for label, text in fields
                if text
                for name, pattern in names
                if pattern.search(text)
            ),
            None,
        )
        if hit is not None:
            name, where = hit
            found.append(Recognition(reason=f"alias '{name}' in {where}", artist_id=artist_id))
    return found


RECOGNISERS: list[Recogniser] = [recognise_alias]


def recogniser_register(recogniser: Recogniser) -> None:
    """Add a recogniser (once) to those every item goes through."""
    if recogniser not in RECOGNISERS:
        RECOGNISERS.append(recogniser)


def recognise(item: Item, context: RecogniseContext) -> list[Recognition]:
    """Every recogniser's reasons for this item; empty when none recognises it."""
    found: list[Recognition] = []
    for recogniser in RECOGNISERS:
        found.extend(recogniser(item, context))
    return found
