"""One malloc arena for the whole gateway process (glibc), set before its threads start.

glibc gives each new thread an arena of its own: 64 MiB reserved, and here 0.2-0.3 MiB
touched by each of the gateway's two worker threads (history writes, the event loop's
executor for the MQTT connect and the meter saves). Both sit idle nearly all the time, so
sharing the main arena costs no lock contention worth measuring and keeps ~0.4 MiB off the RSS
of a one-battery gateway (bench/bench_vs_field.py, docs/performance.md).

``MALLOC_ARENA_MAX`` or ``GLIBC_TUNABLES`` in the environment win: nothing is changed then.
ctypes is only used when something imported it already (every BLE config does, through
bleak-retry-connector): importing it for this would cost as much as it saves.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def share_one_arena() -> bool:
    """Limit glibc to one arena; True when it took effect."""
    if "MALLOC_ARENA_MAX" in os.environ or "GLIBC_TUNABLES" in os.environ:
        return False
    ctypes = sys.modules.get("ctypes")
    if ctypes is None:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library handle, or a libc without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(M_ARENA_MAX, 1) == 1  # glibc returns 1 on success; musl's stub 0
    log.debug("malloc: one arena for all threads: %s", done)
    return done
