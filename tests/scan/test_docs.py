"""t900: the documentation matches the code. The README's job-key reference equals
`bpscan help job --markdown` (generated from the key table), and each external library is
confined to its one file (<mpi.h> in src/comm.c, <hdf5.h> in src/h5io.c, <fftw3.h> in at
most one file, LAPACKE/CBLAS in src/linalg.c)."""
import glob
import os
import re
import subprocess

from scanlib import ROOT, bpscan

readme = open(os.path.join(ROOT, "README.md")).read()
m = re.search(r"<!-- BEGIN JOB KEYS[^\n]*-->\n(.*?)<!-- END JOB KEYS -->", readme, re.S)
assert m, "README has no generated job-key block"
gen = subprocess.run([bpscan(), "help", "job", "--markdown"], capture_output=True, text=True,
                     check=True).stdout
assert m.group(1) == gen, "README job keys differ from `bpscan help job --markdown`: regenerate"
print("README job-key reference matches the key table")

sources = glob.glob(os.path.join(ROOT, "src", "**", "*.[ch]"), recursive=True) + \
    glob.glob(os.path.join(ROOT, "include", "**", "*.h"), recursive=True)
rules = {"<mpi.h>": ["src/comm.c"], "<hdf5.h>": ["src/h5io.c"], "<lapacke.h>": ["src/linalg.c"],
         "<cblas.h>": ["src/linalg.c"], "<ini.h>": ["src/job.c"]}
for header, allowed in rules.items():
    users = sorted(os.path.relpath(f, ROOT) for f in sources
                   if re.search(r"#\s*include\s*" + re.escape(header), open(f).read()))
    assert set(users) <= set(allowed), "%s included by %s (allowed: %s)" % (header, users, allowed)
    print("%-12s only in %s" % (header, ", ".join(users) or "-"))
fftw = [f for f in sources if "<fftw3.h>" in open(f).read()]
assert len(fftw) <= 1, fftw
print("1 passed, 0 failed")
