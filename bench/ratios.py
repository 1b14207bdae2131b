#!/usr/bin/python3
"""Prints two gwbench result files side by side: biboumi, switchboard, and their ratio.

    bench/ratios.py BIBOUMI.jsonl SWITCHBOARD.jsonl

Rows: per scenario (medians where the harness gives them), the figures that compare
gateways: CPU seconds per 1000 relayed messages, RSS per joined user, throughput, latency.
A ratio is switchboard / biboumi (below 1 is better for CPU, memory and latency).
"""
import json
import sys

FIELDS = {
    "join": ["K", "gw_kib_per_user", "time_all_joined_s", "gw_cpu_s"],
    "xmpp_to_irc_median": ["M", "gw_cpu_s_per_1000", "msgs_per_s"],
    "irc_to_xmpp_fanout_median": ["K", "M", "gw_cpu_s_per_1000", "stanzas_per_s"],
    "latency": ["direction", "p50_ms", "p95_ms", "p99_ms", "gw_cpu_s"],
}
KEYS = {"K", "M", "direction"}


def load(path):
    rows = {}
    for line in open(path):
        d = json.loads(line)
        scenario = d.get("scenario", "")
        if scenario not in FIELDS and not scenario.startswith("latency"):
            continue
        if scenario.startswith("latency"):
            for direction in ("x2i", "i2x"):
                part = dict(d.get(direction) or {})
                part["direction"] = direction
                part["gw_cpu_s"] = part.get("window", {}).get("cpu_s", {}).get("gateway")
                rows[("latency", direction)] = part
            continue
        name = scenario
        if name == "join":
            d["gw_cpu_s"] = d.get("window", {}).get("cpu_s", {}).get("gateway")
        key = (name,) + tuple(str(d.get(k)) for k in FIELDS[name] if k in KEYS)
        rows[key] = d
    return rows


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    print(f"{'scenario':40} {'figure':20} {'biboumi':>12} {'switchboard':>12} {'ratio':>8}")
    for key in sorted(set(a) | set(b)):
        name = key[0]
        for field in FIELDS[name]:
            if field in KEYS:
                continue
            x, y = a.get(key, {}).get(field), b.get(key, {}).get(field)
            ratio = f"{y / x:.2f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x else "-"
            label = " ".join(key)
            print(f"{label:40} {field:20} {str(x):>12} {str(y):>12} {ratio:>8}")


if __name__ == "__main__":
    main()
