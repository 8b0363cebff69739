"""Where ../shared (captured vectors, protocol notes) is, from any checkout of the repo.

CI clones the repo beside shared/. A throw-away clone elsewhere (``git clone . $(mktemp -d)``)
still finds it through its origin, which is the working copy that sits beside shared/.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://")) if url else None
    return path if path is not None and path.is_dir() else None


def find_shared() -> Path:
    """BATMUX_SHARED if set, else shared/ beside this checkout, else beside its origin."""
    if configured := os.environ.get("BATMUX_SHARED"):
        return Path(configured)
    candidates = [REPO.parent / "shared"]
    if (origin := _origin_checkout()) is not None:
        candidates.append(origin.resolve().parent / "shared")
    for candidate in candidates:
        if (candidate / "vectors").is_dir():
            return candidate
    raise RuntimeError(
        f"shared/vectors not found beside {REPO} or its git origin; set BATMUX_SHARED"
    )
