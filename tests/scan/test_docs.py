"""t900: the documentation matches the code.
1. The README's job-key reference equals `bpscan help job --markdown` (the key table).
2. The README's architecture map is true. Its layer table (layer number -> files) is parsed;
   it must name every file of src/ (src/models/ included) and include/bpscan/ and no file
   that does not exist, and every quoted #include of those files ("bpscan/x.h" or an
   internal header) must resolve to a file of the includer's own layer or a lower one.
   A table entry x.c stands for src/x.c, its internal header src/x.h and its public header
   include/bpscan/x.h; an entry x.h for src/x.h, include/bpscan/x.h or the generated header
   cmake/x.h.in.
3. Each external library is confined to the one file the README names for it (the sentence
   above the table), and that sentence names at least the libraries listed in CONFINED."""
import glob
import os
import re
import subprocess
import sys

from scanlib import ROOT, bpscan

# Libraries whose confinement the README must state (and this test then checks).
CONFINED = {"<mpi.h>", "<hdf5.h>", "<fftw3.h>", "<omp.h>", "<lapacke.h>", "<cblas.h>", "<ini.h>"}

readme = open(os.path.join(ROOT, "README.md")).read()
errors = []

# 1. job keys
m = re.search(r"<!-- BEGIN JOB KEYS[^\n]*-->\n(.*?)<!-- END JOB KEYS -->", readme, re.S)
assert m, "README has no generated job-key block"
gen = subprocess.run([bpscan(), "help", "job", "--markdown"], capture_output=True, text=True,
                     check=True).stdout
assert m.group(1) == gen, "README job keys differ from `bpscan help job --markdown`: regenerate"
print("README job-key reference matches the key table")


def rel(p):
    return os.path.relpath(p, ROOT)


def exists(p):
    return os.path.isfile(os.path.join(ROOT, p))


# 2. the layer table
m = re.search(r"^## Architecture map\n(.*?)(?=^## )", readme, re.S | re.M)
assert m, "README has no '## Architecture map' section"
section = m.group(1)
rows = [line for line in section.splitlines() if line.startswith("|")]
assert len(rows) > 2 and re.match(r"\|\s*layer\s*\|", rows[0]), "no layer table in the map"
layer_of = {}   # repository path -> layer
entry_of = {}   # repository path -> table entry (for messages)
layer = None
for row in rows[2:]:
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
    if cells[0]:
        lm = re.match(r"(\d+)\b", cells[0])
        if not lm:
            errors.append("layer table: first cell %r is not a layer number" % cells[0])
            continue
        layer = int(lm.group(1))
    if layer is None:
        errors.append("layer table: row before the first layer number: %s" % row)
        continue
    entries = re.findall(r"`([\w./]+\.[ch])`", cells[1])
    if not entries:
        errors.append("layer table: row names no file: %s" % row)
    for e in entries:
        if e.endswith(".c"):
            files = ["src/" + e] if exists("src/" + e) else []
            hdrs = ["src/" + e[:-2] + ".h"] + (["include/bpscan/" + e[:-2] + ".h"]
                                                if "/" not in e else [])
            files += [h for h in hdrs if files and exists(h)]
        else:
            files = [p for p in ("src/" + e, "include/bpscan/" + e, "cmake/" + e + ".in")
                     if exists(p)][:1]
        if not files:
            errors.append("layer table names %s, which does not exist" % e)
        for f in files:
            if f in layer_of:
                errors.append("%s is in the layer table twice (%s, %s)" % (f, entry_of[f], e))
            layer_of[f] = layer
            entry_of[f] = e
print("layer table: %d files in %d layers" % (len(layer_of), len(set(layer_of.values()))))

code = sorted(rel(p) for p in
              glob.glob(os.path.join(ROOT, "src", "**", "*.[ch]"), recursive=True) +
              glob.glob(os.path.join(ROOT, "include", "bpscan", "*.h")))
for f in code:
    if f not in layer_of:
        errors.append("%s is not in the README's layer table" % f)


def resolve(inc, f):
    """Repository path of a quoted #include in file f, or None."""
    if inc.startswith("bpscan/"):
        cands = ["include/" + inc, "cmake/" + os.path.basename(inc) + ".in"]
    else:
        cands = [os.path.normpath(os.path.join(os.path.dirname(f), inc)), "src/" + inc]
    return next((c for c in cands if exists(c)), None)


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
system = {}  # <header> -> files including it
nquoted = 0
for f in code:
    text = open(os.path.join(ROOT, f)).read()
    for kind, inc in INCLUDE.findall(text):
        if kind == "<":
            system.setdefault("<%s>" % inc, []).append(f)
            continue
        nquoted += 1
        g = resolve(inc, f)
        if g is None:
            errors.append('%s includes "%s", which is no file of the tree' % (f, inc))
        elif g not in layer_of:
            errors.append('%s includes "%s" (%s), which is not in the layer table' % (f, inc, g))
        elif f in layer_of and layer_of[g] > layer_of[f]:
            errors.append('%s (layer %d, %s) includes "%s" (layer %d, %s): an upward include'
                          % (f, layer_of[f], entry_of[f], inc, layer_of[g], entry_of[g]))
print("checked %d quoted includes of %d files against the layer table" % (nquoted, len(code)))

# 3. external libraries
rules = {}
m = re.search(r"confined to one file:(.*?)\.\s", section, re.S)
if not m:
    errors.append("the architecture map does not say where external libraries are confined")
else:
    for heads, target in re.findall(r"((?:`<[\w./]+>`(?:,\s*|\s+and\s+)?)+)\s+to\s+`([\w./]+)`",
                                    m.group(1)):
        for h in re.findall(r"`(<[\w./]+>)`", heads):
            rules[h] = target
for h in sorted(CONFINED - set(rules)):
    errors.append("the README does not say where %s is confined" % h)
for h, target in sorted(rules.items()):
    if not exists(target):
        errors.append("the README confines %s to %s, which does not exist" % (h, target))
    users = sorted(set(system.get(h, [])))
    bad = [u for u in users if u != target]
    if bad:
        errors.append("%s is included by %s (confined to %s)" % (h, ", ".join(bad), target))
    print("%-12s only in %s" % (h, ", ".join(users) or "-"))

if errors:
    print("\n".join("FAIL: " + e for e in errors))
    print("0 passed, 1 failed (%d problems)" % len(errors))
    sys.exit(1)
print("1 passed, 0 failed")
