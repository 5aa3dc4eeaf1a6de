"""An orders suite with known flakiness. Random decisions derive from TEST_SEED and the test name.

True failure probabilities (per run):
  test_total_includes_tax ............ 0    (stable)
  test_writes_receipt_file ........... 0    (stable: writes a file in its working directory; it only
                                              turns "flaky" when parallel runs share one checkout)
  test_applies_coupon_once ........... 0.30 (random: a simulated double-submit)
The whole command fails with probability 0.30.
"""
import hashlib
import os
import time


def seeded_uniform(name: str) -> float:
    seed = os.environ.get("TEST_SEED", str(time.time_ns()))
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
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
