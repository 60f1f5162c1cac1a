"""m200: the result file is bitwise identical (data and job metadata) for 1, 2 and 4 MPI
ranks and 1 or 2 OpenMP threads, for several models."""
import os
import tempfile

from scanlib import JOBS, assert_same_data, run_in_subdir

jobs = ["tiny.ini", "tiny-vh.ini", "tiny-hea.ini", "tiny-qbm.ini"]
with tempfile.TemporaryDirectory() as d:
    for job in jobs:
        path = os.path.join(JOBS, job)
        # same output name in per-configuration directories: the stored job text is equal
        ref = run_in_subdir(d, path, 1, 1)
        for ranks, threads in [(1, 2), (2, 1), (4, 1), (2, 2)]:
            out = run_in_subdir(d, path, ranks, threads)
            n = assert_same_data(ref, out)
            print("%-14s %d rank(s) x %d thread(s): %d objects bitwise identical" % (job, ranks, threads, n))
print("1 passed, 0 failed")
