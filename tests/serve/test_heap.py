"""`rag-harden serve` freezes the heap its pipeline loaded (gc.freeze), so a full garbage collection while
serving does not traverse the models' objects; an app built without ``freeze_heap`` (tests, benchmarks) leaves
the collector alone."""

from __future__ import annotations

import gc

from harness.config import ServeConfig
from harness.serve import create_app
from harness.serving.server import freeze_heap
from tests.fakes import SlowGenerator, small_pipeline


def tracked(obj: object) -> bool:
    """Whether a full collection would traverse ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_the_servers_app_freezes_what_its_pipeline_loaded() -> None:
    gc.unfreeze()
    loaded, threshold = [], gc.get_threshold()

    def load():
        loaded.append(small_pipeline(SlowGenerator(0.0)))
        return loaded[0]

    try:
        app = create_app(ServeConfig(), load, load_in_background=False, freeze_heap=True)
        assert gc.get_freeze_count() > 0 and not tracked(loaded[0])
        assert app.state.serve_state["pipeline"] is loaded[0]
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.set_threshold(*threshold)
    assert tracked(loaded[0])


def test_other_apps_leave_the_collector_alone() -> None:
    gc.unfreeze()
    threshold = gc.get_threshold()
    create_app(ServeConfig(), lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


def test_the_objects_of_requests_in_flight_set_off_no_collection() -> None:
    """At 700 (Python's default) the objects that requests in flight hold set the collector off again and
    again (see ``freeze_heap``); in the server process it waits for more."""
    threshold, started = gc.get_threshold(), []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    try:
        freeze_heap()
        gc.callbacks.append(count)
        in_flight = [{"request": i} for i in range(1_500)]
        assert len(in_flight) == 1_500 and started == []
    finally:
        if count in gc.callbacks:
            gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
        gc.unfreeze()
