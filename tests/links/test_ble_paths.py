"""``AutoLink``'s choice with plain values: stub paths, a fake clock, no sockets."""

from __future__ import annotations

from dataclasses import dataclass

from batmux.links.ble_paths import AutoLink


@dataclass
class Proxy:
    free: int | None = 3
    online: bool = True


@dataclass
class Path:
    path: str
    rssi: int | None = None
    proxy: Proxy | None = None


def names(link: AutoLink) -> list[str]:
    return [p.path for p in link.ranked()]  # type: ignore[attr-defined]


def test_heard_by_rssi_then_unknown_then_full() -> None:
    paths = [
        Path("proxy:far", -80, Proxy()),
        Path("hci0"),
        Path("proxy:full", -40, Proxy(free=0)),
        Path("proxy:off", None, Proxy(online=False)),
        Path("proxy:near", -50, Proxy()),
        Path("proxy:quiet", None, Proxy()),
    ]
    link = AutoLink("A4:C1:38:00:00:01", paths)  # type: ignore[arg-type]
    assert names(link) == [
        "proxy:near",
        "proxy:far",
        "hci0",
        "proxy:quiet",
        "proxy:off",  # an offline proxy will not hear it soon
        "proxy:full",
    ]


def test_a_path_failing_in_a_row_is_benched_and_comes_back() -> None:
    now = [0.0]
    near, far = Path("proxy:near", -50, Proxy()), Path("proxy:far", -80, Proxy())
    paths: list = [near, far]
    link = AutoLink("mac", paths, fail_over_after=2, bench_s=60, clock=lambda: now[0])
    link._failed("proxy:near")
    assert names(link)[0] == "proxy:near"  # one failure: not yet
    link._failed("proxy:near")
    assert names(link) == ["proxy:far"]
    now[0] = 61.0
    assert names(link)[0] == "proxy:near"


def test_everything_benched_tries_them_all_again() -> None:
    near, far = Path("proxy:near", -50, Proxy()), Path("proxy:far", -80, Proxy())
    link = AutoLink("mac", [near, far], fail_over_after=1)  # type: ignore[list-item]
    link._failed("proxy:near")
    link._failed("proxy:far")
    assert names(link) == ["proxy:near", "proxy:far"] and not link.benched_until
