"""One glibc malloc arena for the gateway's threads (batmux.runtime.malloc_arena).

Each check runs in a fresh interpreter: an arena limit only binds threads started after it,
and glibc's own report (``malloc_stats``, one ``Arena N:`` block per arena, on stderr) is the
evidence of how many arenas the process ended up with.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's"
)

CHILD = """
import sys, threading
if sys.argv[1] != "no-ctypes":
    import ctypes
from batmux.runtime.malloc_arena import share_one_arena

shared = share_one_arena() if sys.argv[1] != "leave" else None
print(shared, "ctypes" in sys.modules, flush=True)

def allocate():  # blocks above pymalloc's 512 bytes come from the thread's arena
    keep = [bytearray(4096) for _ in range(200)]
    del keep

worker = threading.Thread(target=allocate)
worker.start()
worker.join()
if "ctypes" in sys.modules:
    sys.modules["ctypes"].CDLL(None).malloc_stats()
"""


def run_child(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        check=True,
    )
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    return done.stdout.strip(), arenas


def test_a_worker_thread_allocates_from_the_main_arena() -> None:
    assert run_child("share") == ("True True", 1)


def test_without_it_a_worker_thread_gets_an_arena_of_its_own() -> None:
    assert run_child("leave") == ("None True", 2)


def test_the_users_malloc_setting_wins() -> None:
    assert run_child("share", MALLOC_ARENA_MAX="4") == ("False True", 2)


def test_ctypes_is_not_imported_for_it() -> None:
    assert run_child("no-ctypes")[0] == "False False"
