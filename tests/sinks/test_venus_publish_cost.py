"""What keeps the Venus service's publish round cheap (issue 17) without changing what it shows:
the node tree is rebuilt only when the set of paths changes, and units are looked up once per
path."""

from __future__ import annotations

import dataclasses
from typing import Any

from batmux.sinks import venus_paths
from batmux.sinks.venus import VenusService, _nodes
from batmux.sinks.venus_config import VenusConfig
from sinks.venus_states import GOLDEN_SERVICE, bank_state


class Recorder(VenusService):
    """The real service logic without a bus: what it would register and send."""

    sent: list[dict[str, Any]]

    async def _register(self, values: dict[str, Any]) -> None:
        self._values, self._nodes, self.registered = dict(values), _nodes(values), True
        self.sent = []

    def _emit(self, changed: dict[str, Any], batch: bool = True) -> None:
        self.sent.append(dict(changed))


def _uncached_unit(path: str) -> str:
    for prefix, unit in venus_paths._UNITS:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return unit
    return ""


def test_cached_units_and_texts_equal_the_table_walk() -> None:
    paths = [*GOLDEN_SERVICE, "/Voltages/Cell99", "/Not/A/Path"]
    for _ in range(2):  # the second round is served from the cache
        for path in paths:
            assert venus_paths.unit(path) == _uncached_unit(path), path
    assert venus_paths.text("/Dc/0/Voltage", 26.42) == "26.42V"
    assert venus_paths.text("/Voltages/Cell3", 3.3) == "3.3V"


async def test_node_tree_follows_the_set_of_paths() -> None:
    service = Recorder(VenusConfig.model_validate({"battery": "bank", "device_instance": 100}))
    state = bank_state()
    await service.update(state)
    assert service._nodes == _nodes(service.values())

    # Same paths, new values: only the changed paths go out, the tree stays.
    s = state.sample
    assert s is not None
    await service.update(dataclasses.replace(state, sample=s.with_(voltage_v=26.5)))
    assert service.sent and "/Dc/0/Voltage" in service.sent[-1]
    assert "/Soc" not in service.sent[-1]
    assert service._nodes == _nodes(service.values())

    # More cells: new paths, the tree grows with them; the same value of another type
    # (int vs float) still counts as a change.
    more = dataclasses.replace(state, sample=s.with_(cell_voltages_v=(*s.cell_voltages_v, 3.3)))
    before = set(service.values())
    await service.update(more)
    added = set(service.values()) - before
    assert added and added <= set(service.sent[-1])
    assert service._nodes == _nodes(service.values())
    service._publish({**service.values(), "/Soc": 64})  # was 64.0
    assert service.sent[-1] == {"/Soc": 64}


async def test_a_path_that_goes_is_sent_once_as_unknown() -> None:
    """The publish round skips the set difference when no path is new and the count is the same;
    a path that goes (alone, or while another comes) must still turn unknown, once."""
    service = Recorder(VenusConfig.model_validate({"battery": "bank", "device_instance": 100}))
    state = bank_state()
    await service.update(state)
    shown = service.values()
    last = max((p for p in shown if p.startswith("/Voltages/Cell")), key=lambda p: int(p[14:]))

    values = dict(shown)
    del values[last]
    service._publish(dict(values))
    assert service.sent[-1] == {last: None}
    assert service.values()[last] is None
    sent = len(service.sent)
    service._publish(dict(values))  # still gone: nothing new to say
    assert len(service.sent) == sent

    # One path comes while another goes: the same count, both are sent.
    values = service.values()
    del values["/Soc"]
    values["/Extra/Path"] = 1
    service._publish(values)
    assert service.sent[-1] == {"/Extra/Path": 1, "/Soc": None}
    assert service._nodes == _nodes(service.values())
