"""EventHub: synchronous fan-out that a subscriber can neither break nor reorder."""

from __future__ import annotations

from orca_desktop.events import Event, EventHub, Reset


def test_every_subscriber_gets_every_event_in_order_even_past_a_failing_one() -> None:
    hub = EventHub()
    seen: list[tuple[str, int]] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    hub.subscribe(lambda e: seen.append(("a", e.at_ns)))
    hub.subscribe(broken)
    hub.subscribe(lambda e: seen.append(("b", e.at_ns)))
    hub.publish(Reset(at_ns=1))
    hub.publish(Reset(at_ns=2))
    assert seen == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_subscribing_or_unsubscribing_during_a_publish_takes_effect_from_the_next() -> None:
    hub = EventHub()
    seen: list[tuple[str, int]] = []
    late: list[int] = []

    def once(event: Event) -> None:
        seen.append(("once", event.at_ns))
        stop_once()
        hub.subscribe(lambda e: late.append(e.at_ns))

    stop_once = hub.subscribe(once)
    stop_other = hub.subscribe(lambda e: seen.append(("other", e.at_ns)))
    hub.publish(Reset(at_ns=1))
    hub.publish(Reset(at_ns=2))
    stop_other()
    stop_other()  # a second call is harmless
    hub.publish(Reset(at_ns=3))
    assert seen == [("once", 1), ("other", 1), ("other", 2)]
    assert late == [2, 3]
