"""The hand-marshalled ItemsChanged must be byte for byte what dbus-fast makes of the same
values (``wrap`` for the value, a string ``Variant`` for the text). That it reads back over a
real bus is ``tests/sinks/test_venus_service.py``'s job."""

from __future__ import annotations

from dbus_fast import Message, Variant
from hypothesis import given
from hypothesis import strategies as st

from batmux.links.items_changed import ItemsChangedSignal, items_changed_body
from batmux.links.venus_dbus import BUSITEM, Value, wrap
from batmux.sinks.venus_paths import text

PATH_PART = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", min_size=1)
PATHS = st.lists(PATH_PART, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
VALUES: st.SearchStrategy[Value] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),  # both sides of the 32-bit edge: i and x
    st.floats(allow_nan=False),
    st.floats(),  # NaN and infinities go through as IEEE bytes, as with dbus-fast
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
)
TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
ITEMS = st.dictionaries(PATHS, st.tuples(VALUES, TEXTS), max_size=40)
SERIALS = st.integers(1, 2**32 - 1)


def reference(items: dict[str, tuple[Value, str]], serial: int) -> bytes:
    body = {p: {"Value": wrap(v), "Text": Variant("s", t)} for p, (v, t) in items.items()}
    msg = Message.new_signal("/", BUSITEM, "ItemsChanged", "a{sa{sv}}", [body])
    msg.serial = serial
    return bytes(msg._marshall(False))


def ours(items: dict[str, tuple[Value, str]], serial: int) -> bytes:
    texts = {p: t for p, (_, t) in items.items()}
    body = items_changed_body({p: v for p, (v, _) in items.items()}, lambda p, _: texts[p])
    msg = ItemsChangedSignal(body)
    msg.serial = serial
    return bytes(msg._marshall(False))


@given(ITEMS, SERIALS)
def test_bytes_equal_dbus_fast(items: dict[str, tuple[Value, str]], serial: int) -> None:
    assert ours(items, serial) == reference(items, serial)


@given(st.dictionaries(PATHS, VALUES, max_size=30), SERIALS)
def test_bytes_equal_with_the_services_texts(values: dict[str, Value], serial: int) -> None:
    items = {p: (v, text(p, v)) for p, v in values.items()}
    assert ours(items, serial) == reference(items, serial)


def test_every_kind_of_value_and_alignment() -> None:
    """Each value kind after keys of every length mod 8, so every pad is exercised."""
    values: list[Value] = [None, 0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 1.5, "", "abc", True]
    for n in range(1, 17):
        items = {f"/{'k' * n}{i}": (v, f"t{'x' * i}") for i, v in enumerate(values)}
        assert ours(items, 7) == reference(items, 7)


def test_empty_round() -> None:
    assert ours({}, 3) == reference({}, 3)
