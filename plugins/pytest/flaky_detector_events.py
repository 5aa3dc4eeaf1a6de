"""flaky-detector's pytest plugin: one JSON line when each test starts and ends, and a seeded order.

Loaded with ``-p flaky_detector_events`` (flaky-detector puts this directory on PYTHONPATH).

Events are written only when FLAKY_DETECTOR_EVENTS names the file to append to. Every line is
flushed at once, so when the process dies (a segfault, a kill, a timeout) the file still says
which test was running. The event format is documented in docs/design/events.md.

With FLAKY_DETECTOR_SHUFFLE_SEED set, the collected tests run in an order drawn from that seed
(``--shuffle`` without pytest-randomly): modules in a shuffled order, the classes of each module
shuffled, the tests of each class shuffled, so module- and class-scoped fixtures are still set up
once per group. The same seed gives the same order.

With FLAKY_DETECTOR_REPEAT set to a JSON list of [attempt, seed] pairs, the collected tests run
once per pair in this one process (in-process repetition, docs/design/repeat.md). Before each
repetition the seed variables, ATTEMPT and ``random`` take that attempt's values and a
``repetition`` line is written; after it, every fixture (session-scoped ones too) is torn down, so
each repetition sets its fixtures up afresh. What cannot be reset in a running interpreter stays
shared by the repetitions: imported modules and their globals, and PYTHONHASHSEED (str hashing).
"""

import json
import os
import random
import time

import pytest

_PATH = os.environ.get("FLAKY_DETECTOR_EVENTS")
_out = None
_tests = {}


def _emit(event):
    global _out
    if not _PATH:
        return
    if _out is None:
        _out = open(_PATH, "a", buffering=1, encoding="utf-8")
    _out.write(json.dumps(event) + "\n")
    _out.flush()


def _message(report):
    text = getattr(report, "longreprtext", "") or ""
    lines = [line for line in text.splitlines() if line.strip()]
    # pytest puts the telling line ("E   assert 1 == 2") last.
    errors = [line for line in lines if line.lstrip().startswith("E ")]
    return (errors[-1].strip()[1:].strip() if errors else (lines[-1].strip() if lines else "failed"))[:2000]


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect-error", "file": report.nodeid, "message": _message(report)})


def pytest_runtest_logstart(nodeid, location):
    _tests[nodeid] = {"outcome": "passed", "message": None, "started": time.monotonic()}
    _emit({"event": "start", "id": nodeid, "file": location[0] if location else None})


def pytest_runtest_logreport(report):
    state = _tests.get(report.nodeid)
    if state is None:
        return
    if report.failed and state["outcome"] != "failed":
        state["outcome"] = "failed"
        state["message"] = _message(report)
    elif report.skipped and state["outcome"] == "passed" and report.when in ("setup", "call"):
        state["outcome"] = "skipped"


def pytest_runtest_logfinish(nodeid, location):
    state = _tests.pop(nodeid, None)
    if state is None:
        return
    _emit(
        {
            "event": "end",
            "id": nodeid,
            "outcome": state["outcome"],
            "message": state["message"],
            "durationMs": round((time.monotonic() - state["started"]) * 1000),
        }
    )


_SHUFFLE_SEED = os.environ.get("FLAKY_DETECTOR_SHUFFLE_SEED")


def _shuffled(groups, rng):
    keys = list(groups)
    rng.shuffle(keys)
    return keys


def pytest_collection_modifyitems(session, config, items):
    if not _SHUFFLE_SEED:
        return
    rng = random.Random(int(_SHUFFLE_SEED))
    modules = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        cls = getattr(item, "cls", None)
        modules.setdefault(module, {}).setdefault(cls.__qualname__ if cls else "", []).append(item)
    order = []
    for module in _shuffled(modules, rng):
        classes = modules[module]
        for cls in _shuffled(classes, rng):
            tests = classes[cls]
            rng.shuffle(tests)
            order.extend(tests)
    items[:] = order


_REPEAT = os.environ.get("FLAKY_DETECTOR_REPEAT")
# The variables flaky-detector gives every attempt (src/runner/attempt-env.ts).
_SEED_VARIABLES = ("TEST_SEED", "GO_TEST_SEED", "JEST_SEED", "VITE_TEST_SEED", "MOCHA_SEED")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if not _REPEAT:
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(
            "%d error%s during collection" % (session.testsfailed, "s" if session.testsfailed != 1 else "")
        )
    if session.config.option.collectonly:
        return True
    items = session.items
    for attempt, seed in json.loads(_REPEAT):
        for name in _SEED_VARIABLES:
            os.environ[name] = str(seed)
        os.environ["ATTEMPT"] = str(attempt)
        random.seed(seed)
        started = time.monotonic()
        _emit({"event": "repetition", "attempt": attempt, "seed": seed})
        for i, item in enumerate(items):
            # nextitem None after the last test tears every fixture down before the next repetition.
            nextitem = items[i + 1] if i + 1 < len(items) else None
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        _emit(
            {
                "event": "repetition-end",
                "attempt": attempt,
                "durationMs": round((time.monotonic() - started) * 1000),
            }
        )
    return True
