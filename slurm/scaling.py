#!/usr/bin/python3
"""slurm/scaling.py: simulated strong scaling of a bpscan job, as a table and a plot.

usage: /usr/bin/python3 slurm/scaling.py JOB.ini [--samples S] [--max-ranks R] [--png OUT.png]
                                        [--net GB/s,...] [--bpscan PATH] [--set s.k=v ...]

Runs `bpscan check JOB --ranks 1,2,4,...,R` once (per-sample costs measured on this
machine, the real LPT assignment of the (n, block) tasks, the reduction model; README
"Scaling model"), prints its table, rescales its column "network" (the reduction's
transfers at 5 GB/s) to each assumed network bandwidth, and plots the parallel efficiency
T(1) / (N T(N)) against N, one line per network, with the compute balance of the
assignment alone. Defaults: the job's samples, R = 1024,
networks 1, 5 and 12 GB/s, scaling.png. Threads per rank: OMP_NUM_THREADS (default 1).
Needs Debian's matplotlib (python3-matplotlib).
"""
import argparse
import os
import re
import subprocess
import sys

ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)s\s+"
                 r"([\d.]+)%\s+([\d.]+)%\s+([\d.]+)s\s*$")


def bpscan_path(given):
    if given:
        return given
    if os.environ.get("BPSCAN_BIN"):
        return os.environ["BPSCAN_BIN"]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(here, "build", "bpscan")


def predict(exe, job, sets, ranks, net):
    env = dict(os.environ, BPSCAN_PREDICT_NET_GBS=str(net))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = [exe, "check", job, "--ranks", ",".join(map(str, ranks))]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit("bpscan check failed (%d):\n%s" % (p.returncode, p.stderr))
    rows = {}
    for line in p.stdout.splitlines():
        m = ROW.match(line)
        if m:
            v = [float(x) for x in m.groups()]
            rows[int(v[0])] = dict(calib=v[1], compute=v[2], reduce=v[3], net=v[4], total=v[5],
                                   efficiency=v[6], balance=v[7])
    return rows, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job")
    ap.add_argument("--samples", type=int, help="samples per qubit count (scan.samples)")
    ap.add_argument("--max-ranks", type=int, default=1024)
    ap.add_argument("--net", default="1,5,12", help="network bandwidths in GB/s")
    ap.add_argument("--png", default="scaling.png")
    ap.add_argument("--bpscan")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    a = ap.parse_args()
    exe = bpscan_path(a.bpscan)
    sets = list(a.sets) + (["scan.samples=%d" % a.samples] if a.samples else [])
    ranks = [1]
    while ranks[-1] * 2 <= a.max_ranks:
        ranks.append(ranks[-1] * 2)
    nets = [float(x) for x in a.net.split(",")]
    base = 5.0
    rows, out = predict(exe, a.job, sets, ranks, base)
    print(out.rstrip())
    results = {}
    for net in nets:  # the same measured costs; only the transfers scale with the network
        results[net] = {}
        for n, r in rows.items():
            t = r["calib"] + r["compute"] + r["reduce"] + r["net"] * base / net
            results[net][n] = dict(r, net=r["net"] * base / net, total=t)
        for n in ranks:
            results[net][n]["efficiency"] = 100.0 * results[net][1]["total"] / (n * results[net][n]["total"])
    top = ranks[-1]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for net in nets:
        ax.plot(ranks, [results[net][n]["efficiency"] for n in ranks], marker="o", ms=3,
                label="parallel efficiency, network %g GB/s" % net)
    ref = results[nets[len(nets) // 2]]
    ax.plot(ranks, [ref[n]["balance"] for n in ranks], ls="--", color="grey",
            label="compute balance of the assignment alone")
    ax.axhline(90, color="k", lw=0.6, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("MPI ranks (%s thread(s) each)" % os.environ.get("OMP_NUM_THREADS", "1"))
    ax.set_ylabel("% of ideal")
    ax.set_ylim(0, 102)
    name = os.path.basename(a.job) + (" (%s)" % ", ".join(sets) if sets else "")
    ax.set_title("bpscan strong scaling, simulated: %s\nT(1) = %.0f s; at %d ranks %.1f%% "
                 "(network %g GB/s)" % (name, ref[1]["total"], top, ref[top]["efficiency"],
                                        nets[len(nets) // 2]), fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.png, dpi=120)
    print("wrote %s" % a.png)
    for net in nets:
        r = results[net][top]
        print("%d ranks, network %g GB/s: efficiency %.1f%% (calibration %.2f s, compute %.2f s "
              "at a balance of %.1f%%, reduce %.2f s + network %.2f s; T(1) = %.0f s)" % (
                  top, net, r["efficiency"], r["calib"], r["compute"], r["balance"], r["reduce"],
                  r["net"], results[net][1]["total"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
