"""An orders suite with known flakiness. Seeded decisions derive from TEST_SEED and a label.

True failure probabilities (per run):
  test_total_includes_tax ............ 0    (stable)
  test_writes_receipt_file ........... 0    (stable: writes a file in its working directory; it only
                                              turns "flaky" when parallel runs share one checkout)
  test_applies_coupon_once ........... 0.30 (random: a simulated double-submit)
  test_ships_before_cutoff ........... 0.20 (timing: a slow carrier API, latency from the seed)
  test_rounds_last_cent .............. 0.05 (boundary: the smallest of 20 values hits an off-by-one)
  test_weekly_promotion .............. 0.25 (seed-dependent: fails for every seed divisible by 4)
  test_concurrent_stock_updates ...... 0.15 (concurrency: not reproducible by seed)
  test_warms_price_cache / test_reads_cached_prices  0 in declared order (order-dependent)
  test_charges_saved_card ............ 1    (broken)
"""
import hashlib
import os
import random
import threading
import time

_cache = {}


def seeded_uniform(label: str) -> float:
    seed = os.environ.get("TEST_SEED", str(time.time_ns()))
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def test_total_includes_tax():
    assert round(100 * 1.2, 2) == 120.0


def test_writes_receipt_file():
    marker = f"{os.getpid()}-{time.time_ns()}"
    with open("receipt.txt", "w") as f:
        f.write(marker)
    time.sleep(0.05)
    with open("receipt.txt") as f:
        assert f.read() == marker, "another run overwrote receipt.txt"
    os.remove("receipt.txt")


def test_applies_coupon_once():
    discount = 10
    if seeded_uniform("coupon") < 0.30:
        discount += 10  # the coupon was applied twice
    assert discount == 10


def test_ships_before_cutoff():
    latency = 0.06 if seeded_uniform("carrier latency") < 0.20 else 0.002
    started = time.monotonic()
    time.sleep(latency)
    assert time.monotonic() - started < 0.03, f"carrier answered after {latency * 1000:.0f} ms, limit 30 ms"


def test_rounds_last_cent():
    cents = int(seeded_uniform("cents") * 20)
    assert cents > 0, "rounded the last cent to -1 (off by one at the boundary)"


def test_weekly_promotion():
    seed = int(os.environ.get("TEST_SEED", "1"))
    assert seed % 4 != 0, f"promotion week computed as 0 for seed {seed}"


def test_concurrent_stock_updates():
    stock = {"n": 0}
    lost = random.SystemRandom().random() < 0.15

    def add(n):
        current = stock["n"]
        time.sleep(0.001)
        stock["n"] = current + n if not lost else n

    threads = [threading.Thread(target=add, args=(1,)), threading.Thread(target=add, args=(2,))]
    for t in threads:
        t.start()
        t.join()  # serialised: the "race" is the simulated lost update above
    assert stock["n"] == 3, f"stock {stock['n']}, expected 3: a concurrent update was lost"


def test_warms_price_cache():
    _cache["prices"] = [1, 2, 3]


def test_reads_cached_prices():
    assert "prices" in _cache, "price list not cached: this test relies on an earlier one"


def test_charges_saved_card():
    raise AssertionError("card declined: the payment stub was removed")
