"""``batmux demo``'s variants (--ev, --netzero, --proxy) are separate demos: one at a time."""

from __future__ import annotations

import pytest

from batmux.cli import build_parser


@pytest.mark.parametrize("flags", [["--ev", "--netzero"], ["--proxy", "--ev"]])
def test_demo_variants_are_one_at_a_time(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["demo", *flags])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
