#!/usr/bin/env python3
"""Google Benchmark JSON -> results rows (experiments/results format, docs/METRICS.md): bench_engine_zo_pass's
bandwidth counters, bench_engine_overlap's side-by-side timings, and bench_sim_step's wall times (simulator speed)."""
import argparse
import json

from results_rows import append_rows

COUNTERS = {"pass_GBps": "GB/s", "copy_GBps": "GB/s", "copy_fraction": "ratio"}
SIM_BENCHMARKS = {"BM_Opt175bStep": "sim_opt175b_step_seconds", "BM_TenThousandPolicies": "sim_10k_policies_seconds"}
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
OVERLAP_COUNTERS = {"forward_ms": "ms", "zo_ms": "ms", "sequential_ms": "ms", "concurrent_ms": "ms",
                    "hidden_fraction": "ratio"}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("json", help="benchmark --benchmark_out JSON")
    ap.add_argument("--out", required=True, help="results CSV to append to")
    ap.add_argument("--commit", required=True)
    ap.add_argument("--card", required=True)
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    data = json.load(open(args.json))
    rows = []
    for b in data["benchmarks"]:
        name = b["name"].split("/")[0]
        if name in SIM_BENCHMARKS:  # wall time of one iteration, on the build machine's CPU
            rows.append({"commit": args.commit, "date": data["context"]["date"][:10], "card": args.card,
                         "driver": args.driver, "executor": "sim", "model": "opt-175b" if "175b" in name else "opt-13b",
                         "metric": SIM_BENCHMARKS[name],
                         "value": f"{b['real_time'] * UNIT_SECONDS[b['time_unit']]:.6g}", "unit": "s",
                         "repeats": b["iterations"]})
            continue
        if name == "BM_ForwardBesideZoPass":  # label: "fp16 opt-6.7b block forward beside <pass>"
            dtype, kind = b["label"].split()[0], b["label"].split()[-1]
            for counter, unit in OVERLAP_COUNTERS.items():
                rows.append({"commit": args.commit, "date": data["context"]["date"][:10], "card": args.card,
                             "driver": args.driver, "executor": "cuda", "model": "opt-6.7b-block", "dtype": dtype,
                             "metric": f"overlap_{kind.replace('+', '_')}_{counter}", "value": f"{b[counter]:.6g}",
                             "unit": unit, "repeats": b["iterations"]})
            continue
        if "copy_fraction" not in b:
            continue
        if not b["label"].endswith("default"):
            continue  # tuning variants stay in the benchmark JSON; rows record what the engine runs
        dtype, kind = b["label"].split()[:2]
        for counter, unit in COUNTERS.items():
            rows.append({"commit": args.commit, "date": data["context"]["date"][:10], "card": args.card,
                         "driver": args.driver, "executor": "cuda", "model": "opt-6.7b-block", "dtype": dtype,
                         "metric": f"zo_pass_{kind.replace('+', '_')}_{counter}", "value": f"{b[counter]:.6g}",
                         "unit": unit, "repeats": b["iterations"]})
    append_rows(args.out, rows)
    print(f"{len(rows)} rows -> {args.out}")


if __name__ == "__main__":
    main()
