#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the pool_ops fuzz target (fuzz/corpus/pool_ops/).

pool_ops reads its input with FuzzedDataProvider, one byte per decision, and FuzzedDataProvider
takes integers from the END of the input: a seed is its decisions, reversed. The decision order
is the one in pool_ops.cpp (driver::start, then driver::one_step per operation).
Run: python3 fuzz/pool_ops_seeds.py  (rewrites the seeds; the fuzzer adds its own elsewhere).
"""
import pathlib

OPS = ["try_acquire", "acquire", "release", "drop", "move", "statement", "open_transaction",
       "leave_mid_step", "mark_broken", "sicken", "fail_checks", "fail_opens", "advance",
       "maintain", "transaction", "close", "evict", "suspend", "resize"]


def config(min_c=1, max_c=4, max_uses=0, max_age=120, idle=60, check=30, cache=4,
           fail_open=False, throw_every=0, unknown=False, destroy_first=False):
    return [min_c, max_c - max(min_c, 1), max_uses, max_age - 1, idle - 1, check - 1, cache,
            7 if fail_open else 0, throw_every, 1 if unknown else 0, 3 if destroy_first else 0]


def op(name, *args):
    return [OPS.index(name), *args]


def seed(decisions):
    return bytes(reversed(decisions))


SEEDS = {
    # Exhaust a pool of 2, use connections, give them back in every way.
    "basic_exhaust": config(min_c=1, max_c=2) + op("try_acquire", 0) + op("try_acquire", 1)
    + op("try_acquire", 2) + op("acquire", 3) + op("statement", 0, 0, 0) + op("statement", 0, 1, 42)
    + op("statement", 1, 2, 0) + op("release", 0) + op("acquire", 2) + op("drop", 1)
    + op("drop", 2) + op("maintain"),
    # max_uses, max_age, idle_timeout and periodic checks with the clock moving.
    "recycling_clock": config(min_c=1, max_c=3, max_uses=2, max_age=10, idle=5, check=3)
    + op("try_acquire", 0) + op("release", 0) + op("try_acquire", 0) + op("release", 0)
    + op("try_acquire", 1) + op("try_acquire", 2) + op("release", 2) + op("advance", 1, 6)
    + op("maintain") + op("release", 1) + op("advance", 1, 11) + op("maintain")
    + op("try_acquire", 3) + op("advance", 2, 1) + op("release", 3) + op("maintain"),
    # Health verdicts: a sick idle connection, failing checks on checkout and periodically.
    "health_verdicts": config(min_c=2, max_c=4, check=2, unknown=True) + op("sicken", 8)
    + op("try_acquire", 0) + op("fail_checks", 2) + op("try_acquire", 1) + op("sicken", 1)
    + op("release", 1) + op("release", 0) + op("advance", 1, 3) + op("fail_checks", 1)
    + op("maintain") + op("try_acquire", 4) + op("release", 4),
    # Broken connections, open transactions, a statement left mid-step, a changed pragma, a
    # pragma and a temp table the pool does not restore (the connection is retired).
    "broken_and_dirty": config(min_c=1, max_c=3, cache=0) + op("try_acquire", 0)
    + op("open_transaction", 0, 1) + op("mark_broken", 0, 0) + op("release", 0)
    + op("try_acquire", 1) + op("statement", 1, 0, 0) + op("open_transaction", 1, 5)
    + op("leave_mid_step", 1) + op("statement", 1, 3, 0) + op("release", 1)
    + op("try_acquire", 2) + op("open_transaction", 2, 4) + op("statement", 2, 10, 0)
    + op("drop", 2) + op("try_acquire", 3) + op("statement", 3, 12, 0) + op("release", 3),
    # write()/read() bodies: commit, body failure, busy while a client holds the write lock,
    # nested acquire.
    "transactions_busy": config(min_c=1, max_c=3) + op("try_acquire", 0) + op("statement", 0, 0, 0)
    + op("release", 0) + op("transaction", 1, 0, 5) + op("transaction", 0, 1, 0)
    + op("transaction", 1, 2, 0) + op("transaction", 1, 3, 0) + op("try_acquire", 1)
    + op("open_transaction", 1, 1) + op("transaction", 1, 0, 6) + op("transaction", 0, 1, 0)
    + op("statement", 1, 11, 1) + op("release", 1),
    # close() with leases out, acquires on a closed pool, then the pool destroyed before its
    # last lease comes back.
    "close_and_orphan": config(min_c=2, max_c=4, destroy_first=True) + op("try_acquire", 0)
    + op("try_acquire", 1) + op("try_acquire", 2) + op("release", 2) + op("close")
    + op("try_acquire", 3) + op("acquire", 3) + op("transaction", 1, 0, 0) + op("maintain")
    + op("release", 0) + op("close"),
    # Opens that fail: on acquire and in maintenance, with the back-off in between.
    "open_failures": config(min_c=3, max_c=5) + op("try_acquire", 0) + op("try_acquire", 1)
    + op("try_acquire", 2) + op("fail_opens", 2) + op("try_acquire", 3) + op("mark_broken", 0, 1)
    + op("release", 0) + op("mark_broken", 1, 2) + op("release", 1) + op("fail_opens", 1)
    + op("maintain") + op("advance", 0, 50) + op("maintain") + op("advance", 0, 200)
    + op("maintain") + op("release", 2),
    # A listener that throws on every second event.
    "listener_throws": config(min_c=1, max_c=2, throw_every=2) + op("try_acquire", 0)
    + op("try_acquire", 1) + op("try_acquire", 2) + op("release", 0) + op("sicken", 1)
    + op("release", 1) + op("maintain") + op("close"),
    # The constructor's warm-up fails.
    "constructor_fails": config(min_c=3, max_c=4, fail_open=True),
    # Leases moved between clients, onto an empty slot and onto a held lease.
    "move_leases": config(min_c=1, max_c=4) + op("try_acquire", 0) + op("try_acquire", 1)
    + op("open_transaction", 1, 0) + op("move", 0, 2) + op("move", 1, 2) + op("statement", 2, 2, 0)
    + op("move", 2, 0) + op("release", 0),
    # Operator controls: soft_evict with leases out (they retire on return, whatever else they
    # bring back), acquires refused while suspended, then resumed; evict after close.
    "evict_and_suspend": config(min_c=2, max_c=4) + op("try_acquire", 0) + op("try_acquire", 1)
    + op("mark_broken", 1, 0) + op("evict") + op("try_acquire", 2) + op("release", 0)
    + op("release", 1) + op("suspend") + op("try_acquire", 3) + op("acquire", 3)
    + op("transaction", 1, 0, 1) + op("release", 2) + op("suspend") + op("try_acquire", 3)
    + op("evict") + op("release", 3) + op("maintain") + op("suspend") + op("close") + op("evict")
    + op("suspend"),
    # resize(min, max) (decided max first): shrinking to 1 with three leases out closes the idle
    # one now and two of the leased ones on return; invalid sizes refused; growing to min 3 opens
    # connections at once; a failed open during resize backs off; resize after close is refused.
    "resize_under_leases": config(min_c=2, max_c=4) + op("try_acquire", 0) + op("try_acquire", 1)
    + op("try_acquire", 2) + op("release", 1) + op("try_acquire", 1) + op("resize", 1, 0)
    + op("release", 2) + op("mark_broken", 1, 0) + op("release", 1) + op("try_acquire", 3)
    + op("resize", 0, 0) + op("resize", 2, 3) + op("release", 0) + op("resize", 6, 3)
    + op("fail_opens", 1) + op("resize", 8, 5) + op("maintain") + op("advance", 1, 1)
    + op("resize", 8, 6) + op("release", 3) + op("close") + op("resize", 2, 1),
}

if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "pool_ops"
    out.mkdir(parents=True, exist_ok=True)
    for name, decisions in SEEDS.items():
        assert all(0 <= d < 256 for d in decisions), name
        (out / name).write_bytes(seed(decisions))
    print(f"wrote {len(SEEDS)} seeds to {out}")
