"""The PDQ index at exchange scale (issue 13), for bench/pdq_index.py: 10,000,000 hashes,
half random and half clustered, image-derived (tests/matching/corpus.py: real PDQ hashes of
edited test images, and heavy-tailed near-duplicate families around them).

Queries, 1,200: 400 hashes of new edits of the same pictures (not stored), 400 stored
clustered hashes moved by 0-8 more bits (re-uploads of a known fake), 400 random hashes.
Measured: the index's query times (p95 over all and per kind), its resident memory, recall
at distance 31 against a vectorised brute force (faiss's flat binary scan when faiss is
installed, cross-checked against numpy's scan on 30 queries; numpy's scan on every query
otherwise), faiss's multi-hash index (as Meta's HMA builds it) on the same hashes, and the
cost of an incremental page of additions and deletions."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import note, percentile, setup_django, timer

setup_django()

from cases.matching.pdq.hashes import HASH_BYTES, MATCH_DISTANCE  # noqa: E402
from cases.matching.pdq.index import BruteForceIndex, PdqIndex  # noqa: E402
from cases.matching.pdq.mutable import MutablePdqIndex  # noqa: E402
from tests.matching.corpus import (  # noqa: E402
    base_images,
    families,
    flip_random_bits,
    image_hashes,
    pdq_dihedral,
    random_edit,
)

SIZE = 10_000_000
SCENES = 200  # drawn scenes besides the 34 test faces
EDITS_PER_IMAGE = 20  # 234 pictures x 21 versions x 8 orientations: 39,312 image hashes
QUERIES_PER_KIND = 400
FAISS_QUERIES_PER_KIND = 100  # faiss's multi-hash index takes tens of ms a query here
NUMPY_CHECKS = 30
PAGE = 1_000  # one partner feed page


def _rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _dataset(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    images = base_images(SCENES)
    with timer() as elapsed:
        seeds = image_hashes(rng, images, EDITS_PER_IMAGE)
    note(f"{len(seeds):,} image hashes ({len(images)} pictures) in {elapsed():.1f} s")
    clustered = SIZE // 2
    hashes = np.empty((SIZE, HASH_BYTES), dtype=np.uint8)
    hashes[: SIZE - clustered] = rng.integers(
        0, 256, size=(SIZE - clustered, HASH_BYTES), dtype=np.uint8
    )
    hashes[SIZE - clustered :] = families(rng, seeds, clustered)
    fresh = np.concatenate(
        [pdq_dihedral(random_edit(rng)(images[int(i)])) for i in rng.integers(0, len(images), 60)]
    )
    picks = rng.choice(len(fresh), size=QUERIES_PER_KIND, replace=False)
    stored = hashes[SIZE - clustered + rng.integers(0, clustered, size=QUERIES_PER_KIND)]
    queries = {
        "image": fresh[picks],
        "family": flip_random_bits(rng, stored, rng.integers(0, 9, size=QUERIES_PER_KIND)),
        "random": rng.integers(0, 256, size=(QUERIES_PER_KIND, HASH_BYTES), dtype=np.uint8),
    }
    # The bucket sizes that clustering makes (16-bit words, as a 16 x 16 index would use).
    words = hashes[SIZE - clustered :].view(">u2")
    biggest = max(int(np.bincount(words[:, c].astype(np.int64)).max()) for c in range(16))
    note(
        f"10M: {SIZE - clustered:,} random + {clustered:,} clustered; largest 16-bit bucket "
        f"{biggest:,} rows (uniform: {SIZE // 65_536})"
    )
    return hashes, queries, len(seeds)


def _timed(run: Callable[[np.ndarray], list[tuple[int, int]]], queries: np.ndarray):
    times, results = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(run(query))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def _reference(
    hashes: np.ndarray, all_queries: np.ndarray
) -> tuple[list[list[tuple[int, int]]], str]:
    """Brute-force answers at distance 31 for every query."""
    try:
        import faiss
    except ImportError:
        note("faiss not installed: numpy's scan on every query (slow)")
        brute = BruteForceIndex.build(np.arange(SIZE), hashes)
        return [brute.query(q) for q in all_queries], "numpy scan"
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(256)
    flat.add(hashes)
    with timer() as elapsed:
        limits, distances, labels = flat.range_search(all_queries, MATCH_DISTANCE + 1)
    note(f"faiss flat scan: {len(all_queries)} queries in {elapsed():.1f} s")
    del flat
    answers = []
    for i in range(len(all_queries)):
        ids, dist = labels[limits[i] : limits[i + 1]], distances[limits[i] : limits[i + 1]]
        order = np.lexsort((ids, dist))
        answers.append(list(zip(ids[order].tolist(), dist[order].tolist(), strict=True)))
    brute = BruteForceIndex.build(np.arange(SIZE), hashes)
    checks = np.linspace(0, len(all_queries) - 1, NUMPY_CHECKS).astype(int)
    same = sum(brute.query(all_queries[i]) == answers[i] for i in checks)
    note(f"faiss flat scan == numpy scan on {same}/{len(checks)} queries")
    if same != len(checks):
        raise SystemExit("the two brute-force scans disagree")
    return answers, "faiss flat scan, checked against numpy"


def _recall(results, answers) -> tuple[float, int, int]:
    expected = sum(len(a) for a in answers)
    agreed = sum(len(set(r) & set(a)) for r, a in zip(results, answers, strict=True))
    extra = sum(len(set(r) - set(a)) for r, a in zip(results, answers, strict=True))
    return (agreed / expected if expected else 1.0), expected, extra


def _faiss_multihash(hashes, queries, answers, mih_times, bench) -> None:
    try:
        import faiss
    except ImportError:
        note("faiss not installed: no multi-hash comparison (pip install faiss-cpu)")
        return
    faiss.omp_set_num_threads(1)
    before = _rss_mb()
    with timer() as elapsed:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)  # HMA's layout: 16 maps of 16 bits
        index.add(hashes)
    build_s, rss = elapsed(), _rss_mb() - before
    subset = np.concatenate(
        [
            np.arange(k * QUERIES_PER_KIND, k * QUERIES_PER_KIND + FAISS_QUERIES_PER_KIND)
            for k in range(3)
        ]
    )

    def run(nflip: int):
        index.nflip = nflip
        times, results = [], []
        for i in subset:
            start = time.perf_counter()
            _limits, dist, labels = index.range_search(queries[i : i + 1], MATCH_DISTANCE + 1)
            order = np.lexsort((labels, dist))
            results.append(list(zip(labels[order].tolist(), dist[order].tolist(), strict=True)))
            times.append((time.perf_counter() - start) * 1000)
        return times, results

    sub_answers = [answers[i] for i in subset]
    times0, results0 = run(0)
    times1, results1 = run(MATCH_DISTANCE // 16)  # HMA: nflip = threshold // nhash = 1
    recall0, _e, _x = _recall(results0, sub_answers)
    recall1, expected, extra = _recall(results1, sub_answers)
    mih_sub = [mih_times[i] for i in subset]
    note(
        f"faiss IndexBinaryMultiHash(256, 16, 16): build {build_s:.1f} s, +{rss:.0f} MB; "
        f"nflip=1 mean {np.mean(times1):.1f} ms p95 {percentile(times1, 95):.1f} ms, recall "
        f"{recall1:.4f} of {expected:,} ({extra} extra); nflip=0 p95 "
        f"{percentile(times0, 95):.2f} ms, recall {recall0:.4f}; MIH on the same "
        f"{len(subset)} queries mean {np.mean(mih_sub):.2f} ms p95 {percentile(mih_sub, 95):.2f} ms"
    )
    bench("pdq_faiss_multihash_query_10m_ms", float(np.mean(times1)), "ms")
    bench("pdq_faiss_multihash_query_10m_p95", percentile(times1, 95), "ms")
    bench("pdq_faiss_multihash_recall_10m", recall1, "ratio")
    bench("pdq_faiss_multihash_nflip0_recall_10m", recall0, "ratio")
    bench("pdq_faiss_multihash_build_10m_s", build_s, "s")
    bench("pdq_faiss_multihash_rss_10m_mb", rss, "MB")
    bench("pdq_mih_query_same_subset_10m_p95", percentile(mih_sub, 95), "ms")
    bench("pdq_mih_speedup_vs_faiss_multihash_10m", float(np.mean(times1) / np.mean(mih_sub)), "x")


def _incremental(index: PdqIndex, rng: np.random.Generator, queries: np.ndarray, bench) -> None:
    """A partner page of 1,000 new hashes and one of 1,000 deletions on the 10M index."""
    with timer() as elapsed:
        mutable = MutablePdqIndex.around(index)
    wrap_s = elapsed()
    page = flip_random_bits(
        rng, index.hashes[rng.integers(0, SIZE, PAGE)], rng.integers(0, 9, PAGE)
    )
    with timer() as elapsed:
        mutable.add(np.arange(SIZE, SIZE + PAGE), page)
    add_ms = elapsed() * 1000
    with timer() as elapsed:
        mutable.remove(rng.choice(SIZE, size=PAGE, replace=False))
    remove_ms = elapsed() * 1000
    times, _results = _timed(mutable.query, queries)
    note(
        f"incremental: wrap {wrap_s:.1f} s (sorts the ids once), add a page of {PAGE} "
        f"{add_ms:.0f} ms, delete {PAGE} items {remove_ms:.0f} ms, query with delta and "
        f"tombstones p95 {percentile(times, 95):.2f} ms; a merge is a build "
        f"(when the delta passes 5% of the main index)"
    )
    bench("pdq_delta_add_page_10m_ms", add_ms, "ms")
    bench("pdq_delta_remove_page_10m_ms", remove_ms, "ms")
    bench("pdq_query_with_delta_10m_p95", percentile(times, 95), "ms")


def index_10m(rng: np.random.Generator, bench) -> None:
    note(f"-- {SIZE:,} stored hashes, clustered and random (issue 13) --")
    hashes, by_kind, _seeds = _dataset(rng)
    gc.collect()
    rss_start = _rss_mb()
    with timer() as elapsed:
        index = PdqIndex.build(np.arange(SIZE), hashes)
    build_s = elapsed()
    all_queries = np.concatenate(list(by_kind.values()))
    index.query(all_queries[0])  # warm up (allocates this thread's scratch array)
    times, results = _timed(index.query, all_queries)
    gc.collect()
    # What building and querying the index added (it keeps its own copy of the hashes).
    rss = _rss_mb() - rss_start
    for k, kind in enumerate(by_kind):
        part = times[k * QUERIES_PER_KIND : (k + 1) * QUERIES_PER_KIND]
        found = [len(r) for r in results[k * QUERIES_PER_KIND : (k + 1) * QUERIES_PER_KIND]]
        note(
            f"{kind:<6} queries: p50 {percentile(part, 50):.2f} ms p95 {percentile(part, 95):.2f} ms "
            f"max {max(part):.1f} ms; matches per query mean {np.mean(found):.0f} max {max(found)}"
        )
        bench(f"pdq_query_10m_{kind}_p95", percentile(part, 95), "ms")
    answers, how = _reference(hashes, all_queries)
    recall, expected, extra = _recall(results, answers)
    note(
        f"MIH {index.widths.count(22)}x22 + {index.widths.count(21)}x21 bits: build "
        f"{build_s:.1f} s, {index.nbytes / 1e6:.0f} MB of arrays, {rss:.0f} MB resident; "
        f"{len(all_queries)} queries mean {np.mean(times):.2f} ms p95 {percentile(times, 95):.2f} ms; "
        f"recall {recall:.4f} of {expected:,} pairs against the {how}, {extra} extra"
    )
    bench("pdq_query_10m_p95", percentile(times, 95), "ms")
    bench("pdq_query_10m_ms", float(np.mean(times)), "ms")
    bench("pdq_index_10m_rss_mb", rss, "MB")
    bench("pdq_index_build_10m_s", build_s, "s")
    bench("pdq_recall_10m", recall, "ratio")
    bench("pdq_recall_10m_queries", len(all_queries), "queries")
    _incremental(index, rng, all_queries, bench)
    _faiss_multihash(hashes, all_queries, answers, times, bench)


if __name__ == "__main__":
    # Only this section: `AG_BENCH=1 python bench/pdq_10m.py` (make bench runs it from
    # pdq_index.py after the 100k and 1M sections).
    from pdq_index import bench as print_bench

    index_10m(np.random.default_rng(13), print_bench)
