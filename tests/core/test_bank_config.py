import pytest

from batmux.config import parse_config
from batmux.errors import ConfigError

A = {"name": "a", "type": "jk"}
B = {"name": "b", "type": "jk"}


def test_full_example_parses() -> None:
    cfg = parse_config(
        {
            "batteries": [
                {
                    **A,
                    "limits": {"max_charge_current": 100, "cell_voltage_max": 3.45},
                    "coulomb_counter": {"current_from": "shunt", "invert_current": True},
                    "charge_switch": {"stop_soc": 90, "start_soc": 80},
                },
                B,
                {"name": "shunt", "type": "jk"},
            ],
            "groups": [
                {"name": "bank", "mode": "parallel", "members": ["a", "b"], "min_members": 2},
                {"name": "top", "mode": "series", "members": ["bank"]},
            ],
        }
    )
    assert cfg.groups[0].required_members == 2
    assert cfg.groups[1].required_members == 1
    assert cfg.batteries[0].limits is not None
    assert cfg.batteries[0].limits.charge_cell_voltage_table.x[0] == 3.375


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            {"batteries": [A], "groups": [{"name": "g", "members": ["a", "x"]}]},
            "groups[0].members[1]",
            "unknown battery or group 'x'",
        ),
        (
            {
                "batteries": [A],
                "groups": [
                    {"name": "g", "members": ["a", "h"]},
                    {"name": "h", "members": ["a", "g"]},
                ],
            },
            "groups[0].members",
            "group cycle",
        ),
        (
            {"batteries": [A], "groups": [{"name": "g", "members": ["g"]}]},
            "groups[0].members",
            "group cycle",
        ),
        (
            {"batteries": [A], "groups": [{"name": "a", "members": ["a"]}]},
            "groups[0].name",
            "used twice",
        ),
        (
            {"batteries": [A], "groups": [{"name": "g", "members": ["a"], "min_members": 2}]},
            "groups[0]",
            "min_members",
        ),
        (
            {"batteries": [A], "groups": [{"name": "g", "members": ["a", "a"]}]},
            "groups[0]",
            "twice",
        ),
        (
            {
                "batteries": [
                    {**A, "limits": {"charge_temperature_table": {"x": [0, 10, 5], "y": [0, 1, 1]}}}
                ]
            },
            "batteries[0].limits.charge_temperature_table",
            "strictly",
        ),
        (
            {
                "batteries": [A],
                "groups": [
                    {
                        "name": "g",
                        "members": ["a"],
                        "limits": {"discharge_cell_voltage_table": {"x": [3.0, 2.9], "y": [1]}},
                    }
                ],
            },
            "groups[0].limits.discharge_cell_voltage_table",
            "breakpoints",
        ),
        (
            {"batteries": [{**A, "coulomb_counter": {"current_from": "nope"}}]},
            "batteries[0].coulomb_counter.current_from",
            "unknown device 'nope'",
        ),
        (
            {"batteries": [{**A, "limits": {"cell_voltage_float": 3.6}}]},
            "batteries[0].limits",
            "cell_voltage_float",
        ),
        (
            {"batteries": [A], "groups": [{"name": "g", "members": ["a"], "mode": "ring"}]},
            "groups[0].mode",
            "",
        ),
        (
            {"batteries": [{**A, "limits": {"typo": 1}}]},
            "batteries[0].limits.typo",
            "unknown key",
        ),
        (
            {"batteries": [{**A, "limits": {"soc_reset_after_days": 0}}]},
            "batteries[0].limits.soc_reset_after_days",
            "greater than 0",
        ),
        (
            {
                "batteries": [
                    {**A, "limits": {"soc_reset_after_days": 30, "soc_reset_cell_voltage": 3.4}}
                ]
            },
            "batteries[0].limits.soc_reset_cell_voltage",
            "below cell_voltage_max",
        ),
        (
            {"batteries": [{**A, "limits": {"soc_reset_after_days": 30, "cell_voltage_max": 3.7}}]},
            "batteries[0].limits.soc_reset_cell_voltage",
            "3.65 V is below cell_voltage_max (3.7 V)",
        ),
        (
            {
                "batteries": [A],
                "groups": [{"name": "g", "members": ["a"], "limits": {"soc_reset_after_days": 30}}],
            },
            "groups[0].limits",
            "soc_reset_after_days is set per battery",
        ),
    ],
)
def test_rejections(data: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "f.yaml")
    assert info.value.field == field
    assert words in info.value.reason


def test_doc_example_parses() -> None:
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).parents[2] / "docs" / "banks-and-limits.md"
    block = re.search(r"```yaml\n(.*?)```", doc.read_text(), re.S)
    assert block is not None
    cfg = parse_config(yaml.safe_load(block.group(1)))
    assert cfg.groups[0].name == "bank" and cfg.groups[0].required_members == 2


def test_every_doc_example_parses() -> None:
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).parents[2] / "docs" / "banks-and-limits.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        parse_config(yaml.safe_load(block))
