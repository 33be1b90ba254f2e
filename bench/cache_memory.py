"""What one cached record costs: bytes per record of the resolution cache, measured.

    python bench/cache_memory.py [--records 50000]

Builds the records bench/resolve_http.py seeds (about 600 bytes of stored values, one
of four values restricted), puts each into a RecordCache with both doors' encodings
filled (the REST body and the wire value block), and prints tracemalloc's bytes per
record beside what the cache charges itself (``RecordCache.bytes``, which bounds it).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from resolve_http import record_values

from core.bus import InvalidationBus
from core.values import load_values
from resolver.cache import RecordCache, build_record
from resolver.wire import codec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    n = args.records
    stored = [record_values(i) for i in range(n)]
    cache = RecordCache(InvalidationBus(), max_bytes=1 << 40, negative_ttl=5, backstop_ttl=None)
    gc.collect()
    tracemalloc.start()
    for i in range(n):
        handle = f"88.100.1/PUMP-{i:07d}"
        record = build_record(1, handle, load_values(stored[i]))
        cache.put(handle.lower(), record, cache.generation)
        cache.wire_block(handle.lower(), record, lambda r: codec.encode_values(r.public))
    gc.collect()
    used, _ = tracemalloc.get_traced_memory()
    print(f"records: {n}, stored values: {sum(map(len, stored)) / n:.0f} bytes each")
    print(f"heap per cached record (both doors' encodings): {used / n:.0f} bytes")
    print(f"charged per record (RecordCache.bytes): {cache.bytes / n:.0f} bytes")


if __name__ == "__main__":
    main()
