#!/usr/bin/env python3
"""Prints a conformance transcript for the inputs below, from the real module.

For adding cases only: its output must be reviewed line by line against PROTOCOL.md before it
goes into conformance.jsonl (a transcript copied from the module unread tests nothing).

    pip install target/dist/breaker_wasm-*.whl
    python breaker-wasm/embed/conformance-gen.py target/breaker.wasm
"""

import json
import sys
from typing import Any

from breaker_wasm import Breaker

A, B = "service-a", "service-b"


def msg(body: dict[str, Any], src: str = "client", dest: str = "breaker") -> dict[str, Any]:
    return {"src": src, "dest": dest, "body": body}


STEPS = [
    # The task's three examples, exactly.
    (0, msg({"type": "call", "msg_id": 1, "force_failures": 5}, A, B)),
    (0, msg({"type": "call", "msg_id": 2, "state": "open"}, A, B)),
    (0, msg({"type": "call", "msg_id": 3, "state": "half_open", "force_success": True}, A, B)),
    (0, msg({"type": "init", "msg_id": 4, "node_id": "n1", "node_ids": ["n1"]}, "c1", "n1")),
    # Plain calls through the task's message.
    (100, msg({"type": "call", "msg_id": 5, "service": "calls"})),
    (100, msg({"type": "call", "msg_id": 6, "service": "calls", "force_failures": 2})),
    (100, msg({"type": "call", "msg_id": 7, "service": "calls", "force_success": True})),
    (100, msg({"type": "call", "msg_id": 8, "service": "big", "force_failures": 4000000000})),
    (
        100,
        msg(
            {
                "type": "call",
                "msg_id": 9,
                "service": "probe",
                "state": "half_open",
                "force_failures": 1,
            }
        ),
    ),
    (5099, msg({"type": "call", "msg_id": 10, "service": "probe"})),
    (5100, msg({"type": "call", "msg_id": 11, "service": "probe"})),
    # configure (fire-and-forget: applied, not answered), then the two-step cycle on "db".
    (
        6000,
        msg(
            {
                "type": "configure",
                "service": "db",
                "config": {"failure_threshold": 2, "open_timeout_ms": 1000},
            }
        ),
    ),
    (6000, msg({"type": "acquire", "msg_id": 20, "service": "db"})),
    (
        6010,
        msg(
            {
                "type": "record",
                "msg_id": 21,
                "service": "db",
                "permit": 1,
                "outcome": "failure",
                "duration_ms": 10,
            }
        ),
    ),
    (6020, msg({"type": "acquire", "msg_id": 22, "service": "db"})),
    (
        6030,
        msg(
            {
                "type": "record",
                "msg_id": 23,
                "service": "db",
                "permit": 2,
                "outcome": "failure",
                "duration_ms": 10,
            }
        ),
    ),
    (6030, msg({"type": "acquire", "msg_id": 24, "service": "db"})),
    (6500, msg({"type": "acquire", "msg_id": 25, "service": "db"})),
    (
        6500,
        msg({"type": "record", "msg_id": 26, "service": "db", "permit": 2, "outcome": "success"}),
    ),
    (6500, msg({"type": "status", "msg_id": 27})),
    (7030, msg({"type": "acquire", "msg_id": 28, "service": "db"})),
    (7031, msg({"type": "acquire", "msg_id": 29, "service": "db"})),
    (
        7040,
        msg(
            {
                "type": "record",
                "msg_id": 30,
                "service": "db",
                "permit": 3,
                "outcome": "success",
                "duration_ms": 10,
            }
        ),
    ),
    (
        7040,
        msg({"type": "record", "msg_id": 31, "service": "db", "permit": 1, "outcome": "failure"}),
    ),
    (7050, msg({"type": "acquire", "msg_id": 32, "service": "db"})),
    (7060, msg({"type": "record", "service": "db", "permit": 4, "outcome": "ignored"})),
    (
        7060,
        msg({"type": "record", "msg_id": 33, "service": "db", "permit": 4, "outcome": "success"}),
    ),
    (
        7070,
        msg(
            {
                "type": "record",
                "msg_id": 34,
                "service": "nobody",
                "permit": 99,
                "outcome": "success",
            }
        ),
    ),
    (7070, msg({"type": "events", "msg_id": 35, "service": "db"})),
    # New defaults; acquire through dest; a probe that fails in half_open, then one that succeeds.
    (8000, msg({"type": "configure", "config": {"open_timeout_ms": 200, "failure_threshold": 1}})),
    (8000, msg({"type": "acquire", "msg_id": 40}, "client", "inventory")),
    (
        8000,
        msg(
            {"type": "record", "msg_id": 41, "permit": 5, "outcome": "failure"},
            "client",
            "inventory",
        ),
    ),
    (8100, msg({"type": "acquire", "msg_id": 42}, "client", "inventory")),
    (8200, msg({"type": "acquire", "msg_id": 43}, "client", "inventory")),
    (
        8201,
        msg(
            {"type": "record", "msg_id": 44, "permit": 6, "outcome": "failure"},
            "client",
            "inventory",
        ),
    ),
    (8300, msg({"type": "acquire", "msg_id": 45}, "client", "inventory")),
    (8401, msg({"type": "acquire", "msg_id": 46}, "client", "inventory")),
    (
        8402,
        msg(
            {"type": "record", "msg_id": 47, "permit": 7, "outcome": "success"},
            "client",
            "inventory",
        ),
    ),
    (8402, msg({"type": "events", "msg_id": 48, "service": "inventory"})),
    # reset and force.
    (9000, msg({"type": "reset", "msg_id": 50, "service": "calls"})),
    (9000, msg({"type": "force", "msg_id": 51, "service": "f", "mode": "open"})),
    (9000, msg({"type": "acquire", "msg_id": 52, "service": "f"})),
    (9000, msg({"type": "force", "msg_id": 53, "service": "f", "mode": "auto"})),
    (9000, msg({"type": "reset", "msg_id": 54})),
    (9000, msg({"type": "status", "msg_id": 55})),
    # Errors: code 10, and code 12 naming the field.
    (10000, msg({"type": "frobnicate", "msg_id": 60})),
    (10000, msg({"type": "advance_clock", "msg_id": 61, "ms": 10})),
    (10000, msg({"type": "configure", "msg_id": 62, "config": {"failure_threshold": 0}})),
    (10000, msg({"type": "configure", "msg_id": 63, "config": {"bogus": 1}})),
    (10000, msg({"type": "configure", "msg_id": 64})),
    (
        10000,
        msg({"type": "record", "msg_id": 65, "service": "db", "permit": 1, "outcome": "maybe"}),
    ),
    (10000, msg({"type": "record", "msg_id": 66, "service": "db", "outcome": "success"})),
    (10000, msg({"type": "call", "msg_id": 67, "force_failures": 1, "force_success": True}, A, B)),
    (10000, msg({"type": "call", "msg_id": 68, "state": "sideways"}, A, B)),
    (10000, msg({"type": "acquire", "msg_id": 69, "service": ""})),
    (10000, msg({"msg_id": 70})),
    (10000, msg({"type": "force", "msg_id": 71, "mode": "sideways"})),
    (10000, msg({"type": "call", "msg_id": "x"}, A, B)),
    (10000, msg({"type": "call", "msg_id": 9007199254740991}, A, B)),
]

if __name__ == "__main__":
    breaker = Breaker(sys.argv[1] if len(sys.argv) > 1 else "target/breaker.wasm")
    for now, send in STEPS:
        out, _ = breaker.handle_raw(json.dumps(send, separators=(",", ":")), now)
        expect = out.decode().splitlines()
        print(
            json.dumps(
                {"now_ms": now, "send": send, "expect": expect},
                separators=(",", ":"),
                ensure_ascii=False,
            )
        )
