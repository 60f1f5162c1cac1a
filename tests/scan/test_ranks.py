"""m200: the result file is bitwise identical (data and job metadata) for 1, 2 and 4 MPI
ranks and 1 or 2 OpenMP threads, for several models; and for the opt-in fused gradient
(tiny.ini with nisq perceptrons, factored and dense noisy)."""
import os
import tempfile

from scanlib import JOBS, assert_same_data, run_in_subdir

jobs = ["tiny.ini", "tiny-vh.ini", "tiny-hea.ini", "tiny-qbm.ini"]
NISQ = ["dqnn.perceptron=nisq", "gradient.method=fused", "scan.qubits=2:3"]
fused = [("-fused", NISQ + ["scan.representation=factored"]),
         ("-fused-noisy", NISQ + ["noise.channel=depolarizing", "noise.p=0.1",
                                  "cost.type=local", "scan.representation=dense"])]
with tempfile.TemporaryDirectory() as d:
    for job in jobs:
        path = os.path.join(JOBS, job)
        # same output name in per-configuration directories: the stored job text is equal
        ref = run_in_subdir(d, path, 1, 1)
        for ranks, threads in [(1, 2), (2, 1), (4, 1), (2, 2)]:
            out = run_in_subdir(d, path, ranks, threads)
            n = assert_same_data(ref, out)
            print("%-14s %d rank(s) x %d thread(s): %d objects bitwise identical" % (job, ranks, threads, n))
    path = os.path.join(JOBS, "tiny.ini")
    for tag, sets in fused:
        ref = run_in_subdir(d, path, 1, 1, sets, tag)
        for ranks, threads in [(2, 1), (2, 2)]:
            n = assert_same_data(ref, run_in_subdir(d, path, ranks, threads, sets, tag))
            print("tiny%-12s %d rank(s) x %d thread(s): %d objects bitwise identical" % (tag, ranks, threads, n))
print("1 passed, 0 failed")
