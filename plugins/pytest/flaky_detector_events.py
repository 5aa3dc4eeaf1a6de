"""flaky-detector's pytest plugin: one JSON line when each test starts and ends.

Loaded with ``-p flaky_detector_events`` (flaky-detector puts this directory on PYTHONPATH) and
active only when FLAKY_DETECTOR_EVENTS names the file to append to. Every line is flushed at
once, so when the process dies (a segfault, a kill, a timeout) the file still says which test
was running. The event format is documented in docs/design/events.md.
"""

import json
import os
import time

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
