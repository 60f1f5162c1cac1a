#!/usr/bin/python3
"""m270-reduce: the streamed reduction and writer (src/assemble.c, src/gather.c, the write
path of src/h5io.c).

  (a) a scan whose per-sample datasets span several chunks (an edge chunk included) and a
      landscape scan of 2-D planes, at 1, 2 and 3 ranks (chunks encoded by 1, 2 and 2 other ranks): the
      data are bitwise identical, and so are the stored bytes of every chunk (filter mask
      included, h5py read_direct_chunk); those bytes are what HDF5's own shuffle + deflate
      pipeline stores for the same data (h5py writes every dataset again with the same
      chunks and filters);
  (b) rank 0's peak memory (/usr/bin/time, maximum resident set) grows from 30000 to 60000
      samples (2 ranks) by no more than its own share of the new records plus 8 MiB: the
      reduction's buffers do not grow with the samples (before streaming, rank 0 held every
      record about four times: a growth of about 3.8 x all the new records);
  (c) a full disk (root: a 1 MiB tmpfs): exit 1 with "No space left on device", neither the
      result nor its temporary file left.
Needs BPSCAN_BIN; run with /usr/bin/python3.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scan"))
import h5py  # noqa: E402

from scanlib import JOBS, assert_same_data, bpscan, cmd, env, run  # noqa: E402

WIDE = """# wide records, cheap samples: %d tracked parameters per sample at n = 2
[scan]
model   = hea
qubits  = %s
samples = %d
block   = 50
[hea]
ansatz = alt
layers = 100
[gradient]
method = adjoint
params = all
[output]
path = wide.h5
"""
passed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok %d: %s" % (passed, msg), flush=True)


def chunks(path):
    """{dataset: (chunk shape, filters, [(offset, mask, bytes)])} of every chunked dataset."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                got = []
                for i in range(obj.id.get_num_chunks()):
                    off = obj.id.get_chunk_info(i).chunk_offset
                    mask, raw = obj.id.read_direct_chunk(off)
                    got.append((off, mask, raw))
                out[name] = (obj.chunks, obj.shuffle, obj.compression, obj.compression_opts,
                             sorted(got))
        f.visititems(visit)
    return out


def hdf5_filters(path, scratch):
    """The same datasets written by HDF5's own filter pipeline (h5py): their chunks."""
    with h5py.File(path, "r") as f, h5py.File(scratch, "w") as g:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                g.create_dataset(name, data=obj[()], chunks=obj.chunks, shuffle=obj.shuffle,
                                 compression=obj.compression,
                                 compression_opts=obj.compression_opts)
        f.visititems(visit)
    return chunks(scratch)


def check_chunks(d):
    jobs = [("wide", None), ("land", os.path.join(JOBS, "tiny-landscape-plane.ini"))]
    with open(os.path.join(d, "wide.ini"), "w") as f:
        f.write(WIDE % (100, "2:3", 9000))
    for name, job in jobs:
        job = job or os.path.join(d, "wide.ini")
        files = []
        for ranks in (1, 2, 3):
            sub = os.path.join(d, "%s-%d" % (name, ranks))
            os.mkdir(sub)
            args = ["run", job, "-o", "out.h5"]
            if name == "land":  # 2-D planes: per-sample images of 7 x 7 points
                args += ["--set", "scan.samples=4500", "--set", "scan.qubits=2"]
            run(args, ranks=ranks, threads=1, cwd=sub)
            files.append(os.path.join(sub, "out.h5"))
        ref = chunks(files[0])
        nchunks = sum(len(v[4]) for v in ref.values())
        multi = sum(len(v[4]) > 1 for v in ref.values())
        assert multi >= 2, "%s: no dataset spans several chunks" % name
        for other in files[1:]:
            assert_same_data(files[0], other)
            assert chunks(other) == ref, "%s: chunk bytes differ from 1 rank" % other
        lib = hdf5_filters(files[0], os.path.join(d, name + "-h5py.h5"))
        assert lib == ref, "%s: chunks differ from HDF5's own filters: %s" % (
            name, sorted(k for k in ref if lib.get(k) != ref[k]))
        ok("%s scan: 1, 2, 3 ranks give the same data and the same %d stored chunks (%d "
           "datasets of several chunks), equal to HDF5's own shuffle + deflate" %
           (name, nchunks, multi))


def rank0_rss(d, samples):
    """Rank 0's maximum resident set (KiB) of the wide scan at n = 2, 2 ranks."""
    job = os.path.join(d, "wide%d.ini" % samples)
    with open(job, "w") as f:
        f.write(WIDE % (100, "2", samples))
    out = os.path.join(d, "wide%d.h5" % samples)
    rss = os.path.join(d, "rss%d" % samples)
    inner = '/usr/bin/time -f %%M -o %s.$OMPI_COMM_WORLD_RANK %s run %s -o %s' % (
        rss, bpscan(), job, out)
    p = subprocess.run(cmd([], 2)[:-1] + ["sh", "-c", inner], env=env(1), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    m = re.search(r"(\d+)\s*$", open(rss + ".0").read())
    assert m, open(rss + ".0").read()
    with h5py.File(out, "r") as f:
        rec = 1 + 2 * int(f["n2"].attrs["num_params"]) + 4  # cost, grad, diag, params
    os.unlink(out)
    return int(m.group(1)), rec


def check_memory(d):
    if not os.access("/usr/bin/time", os.X_OK):
        print("SKIP (b): no /usr/bin/time", flush=True)
        return
    s1, s2 = 30000, 60000
    r1, rec = rank0_rss(d, s1)
    r2, _ = rank0_rss(d, s2)
    grew = (r2 - r1) / 1024.0
    share = (s2 - s1) * rec * 8 / 2 / 2**20  # rank 0's half of the new records
    print("rank 0 peak RSS: %.1f MiB at %d samples, %.1f MiB at %d: +%.1f MiB (its own new "
          "records: %.1f MiB; all new records: %.1f MiB)" % (r1 / 1024, s1, r2 / 1024, s2, grew,
                                                              share, 2 * share), flush=True)
    assert grew <= share + 8, "rank 0 grew by %.1f MiB, its records by %.1f MiB" % (grew, share)
    ok("rank 0's memory grows only by the records it computed itself")


def check_disk_full(d):
    mnt = os.path.join(d, "full")
    os.mkdir(mnt)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        print("SKIP (c): cannot mount a small tmpfs (needs root)", flush=True)
        return
    try:
        with open(os.path.join(d, "wide.ini"), "w") as f:
            f.write(WIDE % (100, "2:3", 2000))
        p = run(["run", os.path.join(d, "wide.ini"), "-o", os.path.join(mnt, "out.h5")], ranks=2,
                threads=1, check=False)
        assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
        assert "No space left on device" in p.stderr, p.stderr[-2000:]
        left = sorted(os.path.basename(x) for x in glob.glob(os.path.join(mnt, "*")))
        assert left == [], left
        ok("a full disk: exit 1, \"No space left on device\", nothing left behind")
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def main():
    with tempfile.TemporaryDirectory() as d:
        check_chunks(d)
        check_disk_full(d)
        check_memory(d)
    print("%d passed, 0 failed" % passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
