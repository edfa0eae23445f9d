"""Run ids stay unique under a busy trigger."""

from app.engine.runs import new_run_id


def test_ids_drawn_within_the_same_second_do_not_collide():
    """A webhook at 100 runs/s draws many ids per second; with 24 random bits, 20,000 draws
    collide about 12 times (a run refused as "already started"), with 48 about never."""
    ids = [new_run_id("hook") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("hook-") for i in ids)
