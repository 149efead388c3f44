"""`rag-harden serve` freezes the heap its pipeline loaded (gc.freeze), so a full garbage collection while
serving does not traverse the models' objects; an app built without ``freeze_heap`` (tests, benchmarks) leaves
the collector alone."""

from __future__ import annotations

import gc

from harness.config import ServeConfig
from harness.serve import create_app
from tests.fakes import SlowGenerator, small_pipeline


def tracked(obj: object) -> bool:
    """Whether a full collection would traverse ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_the_servers_app_freezes_what_its_pipeline_loaded() -> None:
    gc.unfreeze()
    loaded = []

    def load():
        loaded.append(small_pipeline(SlowGenerator(0.0)))
        return loaded[0]

    try:
        app = create_app(ServeConfig(), load, load_in_background=False, freeze_heap=True)
        assert gc.get_freeze_count() > 0 and not tracked(loaded[0])
        assert app.state.serve_state["pipeline"] is loaded[0]
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
    assert tracked(loaded[0])


def test_other_apps_leave_the_collector_alone() -> None:
    gc.unfreeze()
    create_app(ServeConfig(), lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)
    assert gc.get_freeze_count() == 0
