#!/usr/bin/env bash
# GPU acceptance check for train_scripts/train.py on one GPU (sized for an H100, under 5 minutes).
#
#   benchmarks/gpu_check.sh OUTDIR
#
# Runs: train_bench (CPU vs CUDA), the strict-device contract (AZURE_TRAINER_REQUIRE_GPU=1 must NOT exit
# 78 on a GPU; with CUDA_VISIBLE_DEVICES="" it MUST exit 78), bf16 vs fp32 test accuracy over 5 seeds on
# digits, and one --compile run. Writes OUTDIR/gpu_check.json and OUTDIR/gpu_check.md.
# Without a visible GPU it says so, runs the checks that still make sense, and exits 0 with
# "gpu": false in the JSON (the bf16 / compile / GPU columns are skipped).
set -uo pipefail

OUT=${1:?usage: gpu_check.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python}
TRAIN="$ROOT/train_scripts/train.py"
export TRAIN_DISABLE_MLFLOW=1
unset AZURE_TRAINER_REQUIRE_GPU
START=$(date +%s)

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  GPU=1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/nvidia-smi.txt" 2>&1 || true
else
  GPU=0
  echo "gpu_check: NO GPU visible to torch here - the GPU parts are skipped (see gpu_check.json)." >&2
fi

# 1. train_bench: CPU and CUDA in one run (its defaults time 10 CPU steps and 100 GPU steps).
timeout 240 "$PY" "$ROOT/benchmarks/train_bench.py" --json "$OUT/train_bench.json" \
  > "$OUT/train_bench.md" 2>"$OUT/train_bench.err"
echo "train_bench rc=$?" >> "$OUT/steps.log"

# 2. Strict device contract.
AZURE_TRAINER_REQUIRE_GPU=1 timeout 120 "$PY" "$TRAIN" --max-steps 5 --output-dir "$OUT/strict_gpu" \
  > "$OUT/strict_gpu.log" 2>&1
STRICT_GPU_RC=$?
AZURE_TRAINER_REQUIRE_GPU=1 CUDA_VISIBLE_DEVICES="" timeout 120 "$PY" "$TRAIN" --max-steps 5 \
  --output-dir "$OUT/strict_hidden" > "$OUT/strict_hidden.log" 2>&1
STRICT_HIDDEN_RC=$?

# 3. bf16 vs fp32 over 5 seeds on digits, default settings (GPU only; the 5 seeds run side by side on the
#    one GPU to stay inside the time budget), and 4. one --compile run.
mkdir -p "$OUT/acc"
COMPILE_RC=""
if [ "$GPU" = 1 ]; then
  for prec in bf16 fp32; do
    pids=()
    for seed in 0 1 2 3 4; do
      timeout 150 "$PY" "$TRAIN" --device cuda --precision "$prec" --seed "$seed" --no-resume --threads 2 \
        --output-dir "$OUT/acc/$prec-$seed" > "$OUT/acc/$prec-$seed.log" 2>&1 &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || echo "acc run $prec pid $pid failed" >> "$OUT/steps.log"; done
  done
  timeout 240 "$PY" "$TRAIN" --device cuda --compile --no-resume --output-dir "$OUT/compile" \
    > "$OUT/compile.log" 2>&1
  COMPILE_RC=$?
fi

# 5. Summarise: JSON + Markdown.
GPU=$GPU STRICT_GPU_RC=$STRICT_GPU_RC STRICT_HIDDEN_RC=$STRICT_HIDDEN_RC COMPILE_RC=$COMPILE_RC \
ELAPSED=$(( $(date +%s) - START )) OUT="$OUT" "$PY" - <<'PYEOF'
import json, os, statistics
from pathlib import Path

out = Path(os.environ["OUT"])
gpu = os.environ["GPU"] == "1"

def final(d):
    p = Path(d) / "metrics.jsonl"
    if not p.exists():
        return None
    lines = [json.loads(x) for x in p.read_text().splitlines()]
    return lines[-1] if lines and lines[-1].get("final") else None

def epochs_time(d):
    p = Path(d) / "metrics.jsonl"
    return sum(json.loads(x).get("epoch_time_s", 0) for x in p.read_text().splitlines()) if p.exists() else None

strict_gpu_rc, strict_hidden_rc = int(os.environ["STRICT_GPU_RC"]), int(os.environ["STRICT_HIDDEN_RC"])
report = {"gpu": gpu, "elapsed_s": int(os.environ["ELAPSED"]),
          "nvidia_smi": (out / "nvidia-smi.txt").read_text().strip() if (out / "nvidia-smi.txt").exists() else None,
          "strict": {"require_gpu_rc": strict_gpu_rc, "require_gpu_ok": (strict_gpu_rc != 78) if gpu else None,
                     "hidden_gpu_rc": strict_hidden_rc, "hidden_gpu_ok": strict_hidden_rc == 78}}
tb = out / "train_bench.json"
report["train_bench"] = json.loads(tb.read_text()) if tb.exists() else None
if gpu:
    acc = {}
    for prec in ("bf16", "fp32"):
        vals = [f["test_accuracy"] for s in range(5) if (f := final(out / "acc" / f"{prec}-{s}"))]
        times = [t for s in range(5) if (t := epochs_time(out / "acc" / f"{prec}-{s}"))]
        acc[prec] = {"test_accuracy": vals, "mean": statistics.mean(vals) if vals else None,
                     "stdev": statistics.stdev(vals) if len(vals) > 1 else None,
                     "mean_train_time_s": statistics.mean(times) if times else None}
    report["precision"] = acc
    c = final(out / "compile")
    report["compile"] = {"rc": int(os.environ["COMPILE_RC"] or -1), "test_accuracy": c and c["test_accuracy"],
                         "train_time_s": epochs_time(out / "compile")}
report["ok"] = bool(report["strict"]["hidden_gpu_ok"] and (not gpu or report["strict"]["require_gpu_ok"]))
(out / "gpu_check.json").write_text(json.dumps(report, indent=2))

md = ["# gpu_check", "", f"GPU visible: {'yes: ' + (report['nvidia_smi'] or '') if gpu else 'NO - GPU checks skipped'}",
      f"elapsed: {report['elapsed_s']} s", "", "| check | result |", "|---|---|",
      f"| AZURE_TRAINER_REQUIRE_GPU=1 on this machine | rc {strict_gpu_rc} "
      f"({'ok: not 78' if report['strict']['require_gpu_ok'] else 'n/a (no GPU)' if not gpu else 'FAIL'}) |",
      f"| ... with CUDA_VISIBLE_DEVICES=\"\" | rc {strict_hidden_rc} ({'ok: 78' if strict_hidden_rc == 78 else 'FAIL'}) |"]
if gpu:
    for prec, a in report["precision"].items():
        if a["mean"] is not None:
            md.append(f"| digits {prec}, 5 seeds (run side by side) | mean test acc {a['mean']:.4f} (sd {a['stdev'] or 0:.4f}), "
                      f"train {a['mean_train_time_s']:.1f} s |")
    c = report["compile"]
    md.append(f"| --compile | rc {c['rc']}, test acc {c['test_accuracy']}, train {c['train_time_s']} s |")
tbr = report["train_bench"]
if tbr:
    for dev, r in tbr["devices"].items():
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "n/a"
        md.append(f"| train_bench {dev} ({r['name']}) | {r['samples_per_second']:,.0f} samples/s, "
                  f"step {r['step_time_s'] * 1000:.1f} ms, MFU {mfu}, loop ratio {r['optimised_vs_textbook_ratio']:.2f}x, "
                  f"98% val in {r.get('time_to_98_val_accuracy_s')} s, test acc {r.get('final_test_accuracy')} |")
    md.append(f"| GPU/CPU speed-up | {tbr['gpu_vs_cpu_speedup']} |")
md.append("")
md.append(f"overall: {'OK' if report['ok'] else 'FAIL'}")
(out / "gpu_check.md").write_text("\n".join(md) + "\n")
print("\n".join(md))
raise SystemExit(0 if report["ok"] else 1)
PYEOF
