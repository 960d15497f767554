#!/usr/bin/env bash
# The GPU acceptance check (benchmarks/gpu_check.py does the work; see its docstring or --help).
#
#   benchmarks/gpu_check.sh OUTDIR                 # on a GPU machine: < 8 minutes on one H100/H200
#   benchmarks/gpu_check.sh OUTDIR --cpu-smoke     # the same steps, tiny, on a CPU machine
#
# Exit code: 0 when every gated check passed, 1 when any failed (or no GPU is visible without
# --cpu-smoke), 2 for a bad command line. OUTDIR gets gpu_check.json, gpu_check.md, logs/ and runs/;
# the two reports are rewritten after every step. --budget-s S bounds the whole check (default 480).
# PYTHON names the interpreter (default: python3, else python: a GPU image may have no plain "python").
set -euo pipefail
if [[ -z "${PYTHON:-}" ]]; then
  PYTHON="$(command -v python3 || command -v python || echo python3)"
fi
exec "$PYTHON" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gpu_check.py" "$@"
