"""PDQ re-upload matching: index query time and recall at Hamming distance 31 for 100,000 and
1,000,000 stored hashes (and 10,000,000 clustered and random ones: bench/pdq_10m.py), against a brute-force scan of the same hashes; image hashing cost;
and building an agency's index from the database at 100,000 evidence items.

Stored hashes are random 256-bit values (real PDQ hashes of unrelated images are close to
independent bits) plus planted near-duplicates at every distance 0..40, so both sides of the
threshold are exercised. Queries: the originals of planted copies (each has at least one
match) and as many random hashes (no match: the common case at ingest). Recall is measured
against the brute-force scan on the same queries and over every planted copy within 31."""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
from common import note, percentile, setup_django, timer

setup_django()

from PIL import Image, ImageOps  # noqa: E402

from cases.matching.pdq.hashes import (  # noqa: E402
    HASH_BYTES,
    MATCH_DISTANCE,
    hamming_distances,
    hashes_from_hex,
)
from cases.matching.pdq.images import STORED_CROPS, pdq_analyse, pdq_hash_image  # noqa: E402
from cases.matching.pdq.index import BruteForceIndex, PdqIndex  # noqa: E402
from tests.matching.edits import caption_bar, letterbox  # noqa: E402  (the table's edits)
from tests.matching.images import portrait, sfhq_tiles  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000}
PLANTED = 2_050  # 50 copies at each distance 0..40
MIH_QUERIES = 400  # 200 planted originals + 200 random
BRUTE_QUERIES = {"100k": 60, "1m": 20}
DB_ITEMS = 100_000


def bench(name: str, value: float, unit: str) -> None:
    """`BENCH <name> <value> <unit>`, with three decimals for sub-millisecond figures."""
    text = (
        f"{value:.0f}"
        if unit in ("matches", "queries")
        else f"{value:.3f}"
        if abs(value) < 10
        else f"{value:.1f}"
    )
    print(f"BENCH {name} {text} {unit}", flush=True)


def flip(row: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = row.copy()
    np.bitwise_xor.at(out, bits // 8, (1 << (bits % 8)).astype(np.uint8))
    return out


def dataset(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[tuple[int, int]]]:
    """n random hashes, the last PLANTED of them near-copies of earlier ones. Returns ids,
    hashes, the planted copies' originals, and (copy id, distance) of each copy."""
    hashes = rng.integers(0, 256, size=(n, HASH_BYTES), dtype=np.uint8)
    sources: list[np.ndarray] = []
    copies: list[tuple[int, int]] = []
    for k in range(PLANTED):
        distance = k % 41
        source = hashes[rng.integers(n - PLANTED)]
        row = n - PLANTED + k
        hashes[row] = flip(source, rng.choice(256, size=distance, replace=False))
        sources.append(source.copy())
        copies.append((row, distance))
    return np.arange(n, dtype=np.int64), hashes, sources, copies


def timed_queries(
    index: PdqIndex | BruteForceIndex, queries: list[np.ndarray]
) -> tuple[list[float], list[list[tuple[int, int]]]]:
    times, results = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(index.query(query, MATCH_DISTANCE))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def index_bench(label: str, n: int, rng: np.random.Generator) -> None:
    note(f"-- {n:,} stored hashes --")
    ids, hashes, sources, copies = dataset(rng, n)
    with timer() as elapsed:
        mih = PdqIndex.build(ids, hashes)
    build_s = elapsed()
    brute = BruteForceIndex.build(ids, hashes)
    randoms = list(rng.integers(0, 256, size=(MIH_QUERIES // 2, HASH_BYTES), dtype=np.uint8))
    picks = rng.choice(len(sources), size=MIH_QUERIES // 2, replace=False)
    queries = [sources[i] for i in picks] + randoms
    order = rng.permutation(len(queries))
    queries = [queries[i] for i in order]
    mih.query(queries[0])  # warm up
    mih_times, mih_results = timed_queries(mih, queries)

    subset = list(range(0, len(queries), len(queries) // BRUTE_QUERIES[label]))[
        : BRUTE_QUERIES[label]
    ]
    brute_times, brute_results = timed_queries(brute, [queries[i] for i in subset])
    expected = sum(len(r) for r in brute_results)
    agreed = sum(len(set(mih_results[i]) & set(brute_results[k])) for k, i in enumerate(subset))
    # Every planted copy within 31 must come back when its original is asked for.
    within = found = beyond = 0
    for source, (row, distance) in zip(sources, copies, strict=True):
        returned = row in dict(mih.query(source))
        if distance <= MATCH_DISTANCE:
            within += 1
            found += returned
        else:
            beyond += returned
    mean_mih, mean_brute = statistics.fmean(mih_times), statistics.fmean(brute_times)
    note(
        f"MIH build {build_s:.2f} s, {mih.nbytes / 1e6:.0f} MB; query mean {mean_mih:.3f} ms "
        f"p95 {percentile(mih_times, 95):.3f} ms over {len(queries)}; brute force mean "
        f"{mean_brute:.1f} ms p95 {percentile(brute_times, 95):.1f} ms over {len(subset)}"
    )
    note(
        f"recall vs brute force {agreed}/{expected}; planted copies within 31 found "
        f"{found}/{within}; copies beyond 31 returned {beyond}"
    )
    bench(f"pdq_query_{label}_ms", mean_mih, "ms")
    bench(f"pdq_query_p95_{label}_ms", percentile(mih_times, 95), "ms")
    bench(f"pdq_bruteforce_{label}_ms", mean_brute, "ms")
    bench(f"pdq_speedup_vs_bruteforce_{label}", mean_brute / mean_mih, "x")
    bench(f"pdq_recall_at_31_{label}", agreed / expected if expected else 1.0, "ratio")
    bench(f"pdq_planted_recall_at_31_{label}", found / within, "ratio")
    bench(f"pdq_index_build_{label}_s", build_s, "s")
    bench(f"pdq_index_memory_{label}_mb", mih.nbytes / 1e6, "MB")
    if label == "1m":
        popcount_variants(hashes, queries[0])
        image_lookup(mih)


def popcount_variants(hashes: np.ndarray, query: np.ndarray) -> None:
    """Ways to scan a million hashes without numpy 2's bitwise_count (pdqhash needs numpy<2)."""
    table8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def run(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        start = time.perf_counter()
        for _ in range(3):
            fn()
        return (time.perf_counter() - start) / 3 * 1000

    lut8 = run(lambda: table8[hashes ^ query].sum(axis=1, dtype=np.uint16))
    unpack = run(lambda: np.unpackbits(hashes ^ query, axis=1).sum(axis=1, dtype=np.uint16))
    lut16 = run(lambda: hamming_distances(hashes, query))
    note(
        f"full scan of 1M: byte table {lut8:.0f} ms, unpackbits {unpack:.0f} ms, 16-bit table {lut16:.0f} ms (used)"
    )


def image_lookup(index: PdqIndex) -> None:
    """One real image query: ~150 hashes (8 rotations/mirrors of 19 crops) against 1M."""
    img = Image.effect_mandelbrot((640, 480), (-2.0, -1.2, 0.8, 1.2), 60).convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    pdq_analyse(data)
    with timer() as elapsed:
        for _ in range(5):
            analysis = pdq_analyse(data)
    analyse_ms = elapsed() / 5 * 1000
    with timer() as elapsed:
        index.query_many(analysis.queries)
    lookup_ms = elapsed() * 1000
    big = Image.effect_mandelbrot((4000, 3000), (-2.0, -1.2, 0.8, 1.2), 40).convert("RGB")
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    with timer() as elapsed:
        pdq_hash_image(buffer.getvalue())
    big_ms = elapsed() * 1000
    note(
        f"image: analyse ({len(analysis.stored)} stored + {len(analysis.queries)} query hashes) "
        f"{analyse_ms:.0f} ms; "
        f"12 MP JPEG hashed via draft/thumbnail {big_ms:.0f} ms; lookup of all query hashes in 1M {lookup_ms:.0f} ms"
    )
    bench("pdq_image_analyse_ms", analyse_ms, "ms")
    bench("pdq_image_12mp_hash_ms", big_ms, "ms")
    bench("pdq_image_lookup_1m_ms", lookup_ms, "ms")


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def transform_recall(rng: np.random.Generator) -> None:
    """End to end on real faces (tests/data: 2 portraits, 32 SFHQ tiles): store 34 images the
    way the service does, then look up edited copies of each. A hit is the right image; a
    false match is any other image returned."""
    images = [portrait("obama"), portrait("biden"), *sfhq_tiles()]
    stored = [pdq_analyse(_jpeg(img, 92)) for img in images]
    ids = np.repeat(np.arange(len(images)), [len(a.stored) for a in stored])
    index = PdqIndex.build(ids, hashes_from_hex(h for a in stored for h in a.stored))
    hits: dict[str, list[bool]] = {}
    false_matches = 0
    for number, img in enumerate(images):
        w, h = img.size
        ux, uy, sx, sy = rng.uniform(0, 0.05), rng.uniform(0, 0.05), rng.uniform(), rng.uniform()
        copies = {
            "resized 50%": _jpeg(img.resize((w // 2, h // 2)), 90),
            "JPEG q60": _jpeg(img, 60),
            "crop 5% centred": _jpeg(_crop(img, 0.025, 0.025, 0.025, 0.025), 85),
            "crop 5% one corner": _jpeg(_crop(img, 0, 0, 0.05, 0.05), 85),
            "random crop <=5%": _jpeg(
                _crop(img, ux * sx, uy * sy, ux * (1 - sx), uy * (1 - sy)), 75
            ),
            "mirrored": _jpeg(ImageOps.mirror(img), 90),
            "crop 5% every side": _jpeg(_crop(img, 0.05, 0.05, 0.05, 0.05), 85),
            "caption bar on top": _jpeg(caption_bar(img, where="top"), 85),
            "letterboxed": _jpeg(letterbox(img), 85),
            "all of them": _jpeg(
                ImageOps.mirror(_crop(img, 0, 0.02, 0.04, 0.03)).resize((w // 2, h // 2)), 60
            ),
        }
        for name, data in copies.items():
            found = dict(index.query_many(pdq_analyse(data).queries))
            hits.setdefault(name, []).append(number in found)
            false_matches += len(set(found) - {number})
    for name, results in hits.items():
        note(f"{name:<20} found {sum(results)}/{len(results)}")
    total = [r for results in hits.values() for r in results]
    bench("pdq_transform_recall_faces", sum(total) / len(total), "ratio")
    bench("pdq_transform_false_matches_faces", false_matches, "matches")


def db_build(rng: np.random.Generator) -> None:
    """An agency with 100,000 hashed evidence items (11 hashes each, as an image without
    borders keeps: 1.1M hashes): how long
    building its index from the database takes, and the cache check that usually replaces it."""
    from django.db import transaction

    from cases.agency.services.tenancy import agency_create
    from cases.evidence.models import Evidence, EvidenceKind
    from cases.matching.models import FingerprintSource, PdqFingerprint
    from cases.matching.services.index import matching_index_build, matching_index_for

    with transaction.atomic():
        agency = agency_create(name="Bench PDQ Agency", slug="bench-pdq")
    per_item = len(STORED_CROPS)
    with timer() as elapsed:
        for start in range(0, DB_ITEMS, 10_000):
            stop = min(DB_ITEMS, start + 10_000)
            with transaction.atomic():
                items = Evidence.objects.bulk_create(
                    Evidence(
                        agency=agency,
                        kind=EvidenceKind.UPLOAD,
                        sha256=f"{n:064x}",
                        size=1000,
                        media_type="image/jpeg",
                        storage_name=f"evidence/sha256/00/00/{n:064x}",
                        pdq_hash="0" * 64,
                        pdq_quality=100,
                    )
                    for n in range(start, stop)
                )
                blobs = rng.integers(
                    0, 256, size=(stop - start, per_item * HASH_BYTES), dtype=np.uint8
                )
                PdqFingerprint.objects.bulk_create(
                    PdqFingerprint(
                        agency=agency,
                        evidence=item,
                        source=FingerprintSource.IMAGE,
                        hashes=blobs[i].tobytes(),
                        count=per_item,
                        quality=100,
                    )
                    for i, item in enumerate(items)
                )
    note(f"seeded {DB_ITEMS:,} evidence items with fingerprints in {elapsed():.1f} s")
    with timer() as elapsed:
        index = matching_index_build(agency_id=agency.pk)
    build_s = elapsed()
    matching_index_for(agency_id=agency.pk)
    checks = []
    for _ in range(10):
        start = time.perf_counter()
        assert matching_index_for(agency_id=agency.pk) is not None
        checks.append((time.perf_counter() - start) * 1000)
    note(
        f"index from the database: {len(index):,} hashes in {build_s:.2f} s; cached check {statistics.median(checks):.1f} ms"
    )
    bench("pdq_index_build_db_100k_items_s", build_s, "s")
    bench("pdq_index_cache_check_100k_items_ms", statistics.median(checks), "ms")


def main() -> None:
    rng = np.random.default_rng(2024)
    for label, n in SIZES.items():
        index_bench(label, n, rng)
    transform_recall(rng)
    db_build(rng)
    from pdq_10m import index_10m

    index_10m(np.random.default_rng(13), bench)


if __name__ == "__main__":
    main()
