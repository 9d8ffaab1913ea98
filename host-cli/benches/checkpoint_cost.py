#!/usr/bin/env python3
"""What one checkpoint costs at N services: `checkpoint_cost.py [N] [HOST]` (default 1,000,000,
target/release/breaker-host). Starts the host with a guest large enough for N breakers, creates
them, then times (a) a `snapshot` through the guest, the work of every checkpoint, and (b) the
final checkpoint (snapshot and atomic write of the state file) from end of input to exit.
Prints `name value` lines.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
host = sys.argv[2] if len(sys.argv) > 2 else "target/release/breaker-host"
state = os.path.join(tempfile.mkdtemp(prefix="checkpoint-cost-"), "state.json")
mib = max(256, (n * 1200) >> 20)  # twice the budget the breakers need
proc = subprocess.Popen(
    [host, "--clock", "manual", "--state-file", state, "--checkpoint-ms", "3600000",
     "--max-guest-memory-mib", str(mib)],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
)
def send(doc):
    proc.stdin.write((json.dumps({"src": "c", "dest": "db", "body": doc}) + "\n").encode())
    proc.stdin.flush()
def reply():
    return proc.stdout.readline()
send({"type": "configure", "msg_id": 1, "config": {"max_services": n}})
assert b"configure_ok" in reply()
batch = "".join(
    '{"src":"c","dest":"db","body":{"type":"call","service":"service-%d"}}\n' % i for i in range(n)
).encode()
proc.stdin.write(batch)
send({"type": "status", "msg_id": 2, "service": "service-0"})
proc.stdin.flush()
assert b"status_ok" in reply()
started = time.perf_counter()
send({"type": "snapshot", "msg_id": 3})
proc.stdin.flush()
line = reply()
snapshot_s = time.perf_counter() - started
assert b"snapshot_ok" in line
started = time.perf_counter()
proc.stdin.close()
proc.wait()
exit_s = time.perf_counter() - started
print(f"services {n}")
print(f"snapshot_bytes {len(line)}")
print(f"snapshot_ms {snapshot_s * 1000:.0f}")
print(f"final_checkpoint_ms {exit_s * 1000:.0f}")
print(f"state_file_bytes {os.path.getsize(state)}")
print(f"exit_code {proc.returncode}")
