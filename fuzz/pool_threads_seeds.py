#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the pool_threads fuzz target (fuzz/corpus/pool_threads/).

pool_threads reads its input with FuzzedDataProvider, one byte per decision, and FuzzedDataProvider
takes integers from the END of the input: a seed is its decisions, reversed. The decision order
is the one in pool_threads.cpp: read_setup, then per step the worker to run (harness::pick) and,
when that worker is ready rather than stopped at a gate, its command (harness::read_command).

Workers stop at gates, and a seed resumes them (resume(w): the worker is named, and a gated worker
resumes): at the health check on checkout and on return (scripted_health checks at both), after a
connection opened (on_connect), when handed a connection (on_acquire), on a timeout (on_timeout).
So an acquire that gets a connection takes two resumes (check or open, then hand-out), a healthy
release one (the check on return), a write() three. Naming a worker parked in the pool waits for
it to time out (or be woken), then resumes it.
Run: python3 fuzz/pool_threads_seeds.py  (rewrites the seeds; the fuzzer adds its own elsewhere).
"""
import pathlib

LOCKING = ["std_mutex", "spin", "fifo"]
OPS = ["acquire", "try_acquire", "release", "drop", "give", "move_assign", "close", "maintain",
       "health", "transaction", "dirty", "advance"]


def setup(locking="std_mutex", workers=2, max_c=1, min_c=0, acquire_ms=3, close_ms=0, max_uses=0):
    return [LOCKING.index(locking), workers - 2, max_c - 1, min_c, acquire_ms - 1, close_ms, max_uses]


def run(w, name, *args):
    """Worker w runs a command: acquire/try_acquire take a timeout in ms (0-3), transaction a kind
    (0 commit, 1 body throws, 2 read), close nothing, every other command two arguments (0-7)."""
    if name in ("acquire", "try_acquire", "transaction"):
        assert len(args) == 1
    elif name == "close":
        assert not args
    else:
        args = (list(args) + [0, 0])[:2]
    return [w, OPS.index(name), *args]


def resume(w, times=1):
    return [w] * times


def take(w, ms=0):
    """Worker w acquires and gets a connection: two gates."""
    return run(w, "acquire", ms) + resume(w, 2)


def back(w, name="release", k=0):
    """Worker w gives a healthy connection back (release or drop): the check on return."""
    return run(w, name, k) + resume(w)


def seed(decisions):
    return bytes(reversed(decisions))


SEEDS = {
    # One connection: worker 0 holds it, worker 1 waits for it, worker 0 asks for another: every
    # lease is held by a waiting thread, so detect_nested_acquire refuses at once (the input that
    # killed the harness in CI before it checked the refusal).
    "nested_acquire": setup(max_c=1) + take(0) + run(1, "acquire", 3) + run(0, "acquire", 3) + back(0)
    + resume(1, 2),
    # One connection, two workers: the second waits and gets it when the first gives it back.
    "waiter_woken": setup(max_c=1) + take(0) + run(1, "acquire", 3) + back(0) + resume(1, 2)
    + back(1, "drop"),
    # Strict FIFO: two waiters get the connection in arrival order, handed over directly.
    "fifo_handoff": setup("fifo", workers=3, max_c=1) + take(0) + run(1, "acquire", 3)
    + run(2, "acquire", 3) + back(0) + resume(1, 2) + back(1) + resume(2, 2) + back(2),
    # Spin lock: a lease handed to another worker and given back from that worker's thread,
    # waking a waiter there; a lease move-assigned onto another.
    "spin_give_back": setup("spin", workers=3, max_c=2) + take(0) + take(0) + run(0, "give", 0, 1)
    + run(2, "acquire", 3) + back(1) + resume(2, 2) + run(2, "give", 0, 0)
    + run(0, "move_assign", 0, 1) + resume(0) + back(0),
    # close() while one worker waits and another holds a lease: the waiter learns the pool
    # closed, the lease comes back after close and its connection closes then.
    "close_with_waiter": setup(workers=3, max_c=1, close_ms=1) + take(0) + run(1, "acquire", 3)
    + run(2, "close") + back(0) + run(1, "acquire", 0),
    # Health: a held connection turns sick (retired on return, its capacity goes to the waiter,
    # which opens a new one); checks fail on checkout; periodic checks in maintain.
    "health_verdicts": setup(workers=3, max_c=2, min_c=2) + take(0) + take(1) + run(0, "health", 0)
    + run(2, "acquire", 3) + back(0) + resume(2, 2) + run(2, "health", 5) + back(1) + back(2, "drop")
    + run(0, "advance", 3) + run(0, "maintain") + resume(0, 2) + run(1, "try_acquire", 0)
    + resume(1, 2),
    # close() while maintain() is stopped in a periodic check: the checked connection closes
    # instead of going back.
    "close_during_maintain": setup(workers=2, max_c=2, min_c=1) + run(0, "advance", 3)
    + run(0, "maintain") + run(1, "close") + resume(0),
    # write() (three gates: check, hand-out, check on return), write() whose body throws, write()
    # against a lease holding the write lock (busy), read().
    "transactions": setup(workers=2, max_c=2, min_c=2, acquire_ms=2) + run(0, "transaction", 0)
    + resume(0, 3) + run(0, "transaction", 1) + resume(0, 3) + take(1) + run(1, "dirty")
    + run(0, "transaction", 0) + resume(0, 3) + run(0, "transaction", 2) + resume(0, 3) + back(1),
    # Timeouts: try_acquire and acquire with short timeouts on an exhausted pool, then max_uses
    # retiring the connection on return and maintain opening a new one.
    "timeouts_max_uses": setup("spin", workers=2, max_c=1, min_c=1, max_uses=1) + take(0)
    + run(1, "try_acquire", 1) + resume(1) + run(1, "acquire", 2) + resume(1) + back(0, "drop")
    + run(1, "maintain") + resume(1) + take(1),
    # Four workers on two connections with the FIFO lock: a lease handed to a parked worker, a
    # handoff to the first waiter while the second times out, close, an acquire after it.
    "fifo_four_workers": setup("fifo", workers=4, max_c=2, min_c=1) + take(0) + take(1)
    + run(2, "acquire", 3) + run(3, "acquire", 3) + run(0, "give", 0, 3) + back(1, "drop")
    + resume(2, 2) + resume(3) + back(3) + run(2, "close") + run(3, "acquire", 0),
}


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "pool_threads"
    out.mkdir(parents=True, exist_ok=True)
    for name, decisions in SEEDS.items():
        assert all(0 <= d < 256 for d in decisions), name
        (out / name).write_bytes(seed(decisions))
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
