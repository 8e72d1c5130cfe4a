#!/usr/bin/env python3
"""The book's mining loop (mine.py), reproduced for scripts/bench.sh.

The book hashes the block data followed by ``bytes(nonce)`` -- which in Python 3 is *nonce
zero bytes*, not the nonce's encoding -- with SHA-256, and looks for a hex digest starting with
four zeros (difficulty 16 bits, so 65,536 nonces of expected work). This script runs exactly
that loop body over nonces 0..65,535 (the expected work from nonce 0), without the book's
per-nonce print (which would only make the book slower), and prints one line:

    book_nonces=65536 book_seconds=<s> book_rate=<nonces/s> book_hits=<n>
"""

import hashlib
import sys
import time

# Any fixed block content does: the book hashes its serialized block. 80 bytes, like a header.
BLOCK_DATA = bytes.fromhex(
    "01000000" + "00" * 32
    + "95f7d00f54ba717250a0adec1d63d6e350fba56fdb79fe175edad0b2dfff1c23"
    + "8076076b" + "ffff7f20"
)
NONCES = int(sys.argv[1]) if len(sys.argv) > 1 else 65536


def main():
    hits = 0
    start = time.perf_counter()
    nonce = 0
    while nonce < NONCES:
        search_hash = hashlib.sha256(BLOCK_DATA + bytes(nonce)).hexdigest()
        if search_hash.startswith("0000"):
            hits += 1  # the book stops here; we keep going to do the full expected work
        nonce += 1
    seconds = time.perf_counter() - start
    print(f"book_nonces={NONCES} book_seconds={seconds:.3f} "
          f"book_rate={NONCES / seconds:.1f} book_hits={hits}")


if __name__ == "__main__":
    main()
