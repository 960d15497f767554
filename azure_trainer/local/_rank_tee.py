"""One torchrun worker of ``azure-trainer run-local``: run the job's command, prefix its output with its rank.

    AZT_RANK_STATE_DIR=STATE_DIR python _rank_tee.py -- COMMAND [ARG...]

torchrun starts one of these per rank (``--no-python``), each in its own session (run-local starts one
per node itself for a multi-node job without a distribution: those lines are ``[node N]``). It runs COMMAND
(``bash -c <the job's command>``) in the same process group, so a signal to the group reaches both;
a signal sent to this process alone is forwarded to COMMAND. Every line COMMAND writes to stdout or
stderr comes out on the same stream as ``[rank N] line``, in one write(2) per line, so the lines of
different ranks never mix mid-line. It records, for the parent:

    STATE_DIR/pgid-RANK   this worker's process group (the parent's last resort: SIGKILL it)
    STATE_DIR/exit-RANK   "CODE UNIX_TIME": COMMAND's exit code (128+N for a death by signal N)

and exits with COMMAND's exit code. Standalone on purpose: it imports nothing from azure_trainer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


def _pump(src, fd: int, prefix: bytes) -> None:
    for line in iter(src.readline, b""):
        if not line.endswith(b"\n"):
            line += b"\n"
        data = prefix + line
        while data:
            try:
                written = os.write(fd, data)
            except InterruptedError:  # pragma: no cover - Python retries EINTR itself
                continue
            except OSError:  # the reader went away; keep draining so the child never blocks
                break
            data = data[written:]
    src.close()


STATE_ENV = "AZT_RANK_STATE_DIR"  # supervisor.RANK_STATE_ENV (a test keeps them equal)


def main(argv: list[str]) -> int:
    state_dir = os.environ.get(STATE_ENV)
    if len(argv) < 2 or argv[0] != "--" or not state_dir:
        print(f"usage: {STATE_ENV}=DIR _rank_tee.py -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    command = argv[1:]
    # a torchrun worker has a RANK; a node of a multi-node job without a distribution has only NODE_RANK
    if "RANK" in os.environ:
        rank, label = os.environ["RANK"], f"rank {os.environ['RANK']}"
    else:
        rank = label = f"node {os.environ.get('NODE_RANK', '?')}"
    prefix = f"[{label}] ".encode()

    child: list[subprocess.Popen] = []
    pending: list[int] = []

    def forward(signum, frame):  # noqa: ARG001
        if child:
            try:
                child[0].send_signal(signum)
            except ProcessLookupError:
                pass
        else:
            pending.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        with open(os.path.join(state_dir, f"pgid-{rank}"), "w") as fh:
            fh.write(str(os.getpgrp()))
    except OSError:
        pass
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        os.write(2, prefix + f"cannot start {command[0]}: {exc}\n".encode())
        return 127
    child.append(proc)
    for signum in pending:
        proc.send_signal(signum)
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, 1, prefix), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, 2, prefix), daemon=True),
    ]
    for t in pumps:
        t.start()
    while True:
        try:
            rc = proc.wait()
            break
        except InterruptedError:  # pragma: no cover
            continue
    ended = time.time()
    for t in pumps:
        t.join(timeout=10)
    code = rc if rc >= 0 else 128 - rc
    try:
        with open(os.path.join(state_dir, f"exit-{rank}"), "w") as fh:
            fh.write(f"{code} {ended:.6f}")
    except OSError:
        pass
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
