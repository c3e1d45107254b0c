"""While `sms-bridge serve` serves, the garbage collector is set up for a long-running server, and put back after."""

from __future__ import annotations

import gc

from bot.app import YOUNG_COLLECTION_THRESHOLD


async def test_serving_freezes_startup_and_collects_the_young_generation_less_often(make_bridge):
    before = gc.get_threshold()
    assert before[0] != YOUNG_COLLECTION_THRESHOLD and gc.get_freeze_count() == 0
    bridge = await make_bridge(freeze_gc=True)
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    assert gc.get_freeze_count() > 0  # what startup made is out of the collector's sight
    await bridge.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_an_app_built_for_a_test_run_leaves_the_collector_alone(make_bridge):
    before = gc.get_threshold()
    bridge = await make_bridge()  # freeze_gc=False, as every test's bridge
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    await bridge.stop()
    assert gc.get_threshold() == before
