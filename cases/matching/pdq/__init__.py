"""Re-upload matching: PDQ perceptual hashes and an index that finds every stored hash within
a Hamming distance of a query. Pure (numpy, Pillow, pdqhash): no ORM, so the bench and the
tests can drive it with a million hashes and no database.

- `hashes`: the hash as a value (256 bits, hex and bytes, Hamming distance, the thresholds);
- `images`: hashing pictures and video frames, with the crop ladders and border trimming
  that make crops and letterboxed copies match;
- `index`: multi-index hashing, which finds every stored hash within a distance exactly;
- `mutable`: the same queries over an index that takes additions and deletions (a main
  index, a small delta and tombstones, merged when the delta grows).

Which edits match, measured on the test images, is the table in docs/matching.md, which
tests/matching/test_edit_table.py regenerates; nothing beyond that table is claimed."""
