"""m300: hostile inputs, crafted files and odd paths (issue 13). Every case asserts the exit
code (README "Exit codes"), words of the message (the file and the attribute, key or line
at fault) and that nothing outside bpscan's own files changed: a "user" tree of files,
links, a FIFO and a directory next to the output is fingerprinted before and after each
case. Cases:
  1 --resume never deletes or reads what bpscan did not write (checkpoint path a link, a
    file, foreign files, links and FIFOs inside the checkpoint directory)
  2 crafted result files (attributes as arrays, wrong types, absurd slice counts) for info
    and merge
  3 crafted checkpoints (block counts, numbers, widths, n, trailing bytes, truncation)
  4 --force never replaces a FIFO or device; info/merge on a FIFO never hang
  5 qubit counts beyond the models' limits: exit 2 with file:line or exit 5 before work
  6 --slice arithmetic
  7 [gradient] params names, checkpoint_seconds = 1e-320, a dangling-link output, the
    restart after the final rename, stale OUT.h5.tmp.<pid> files
"""
import hashlib
import os
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time

import h5py
import numpy as np

from scanlib import JOBS, ROOT, cmd, env, run

TINY = os.path.join(JOBS, "tiny.ini")
RESUME = os.path.join(JOBS, "resume.ini")
NCASES = 0


def fingerprint(root, skip=()):
    """{relative path: (kind, content digest or link target)} of every entry under root
    except the names in skip (bpscan's own files)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if rel.split(os.sep)[0] in skip:
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha1(f.read()).hexdigest(), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode), st.st_rdev)
    return out


def expect(args, code, words, user, skip=(), timeout=120, env_extra=None, ranks=0):
    """Run bpscan args; assert the exit code, the words (case-insensitive) in stderr and an
    unchanged user tree (bpscan's own names in skip excluded)."""
    global NCASES
    before = fingerprint(user, skip)
    e = env()
    if env_extra:
        e.update(env_extra)
    t0 = time.time()
    p = subprocess.run(cmd(args, ranks), env=e, capture_output=True, text=True,
                       timeout=timeout)
    dt = time.time() - t0
    after = fingerprint(user, skip)
    assert p.returncode == code, "%s: exit %d, expected %d\n%s" % (args, p.returncode, code,
                                                                     p.stderr)
    for w in words:
        assert w.lower() in p.stderr.lower(), "%s: '%s' not in:\n%s" % (args, w, p.stderr)
    assert before == after, "%s changed files it did not write:\n%s\n%s" % (
        args, sorted(set(before.items()) ^ set(after.items())), p.stderr)
    NCASES += 1
    first = (p.stderr.strip().splitlines() or [""])[0]
    print("case %2d exit %d %5.1fs %-40s %s" % (NCASES, code, dt, " ".join(args[1:])[-40:],
                                                  first[:100]))
    return p


def make_user(d):
    """A user's tree: files, a link, a FIFO, a sub-directory."""
    u = os.path.join(d, "user")
    os.makedirs(os.path.join(u, "sub"))
    for name, text in (("notes.txt", "mine\n"), ("data.bin", "x" * 100),
                       ("sub/keep.h5", "not hdf5"), ("run1-r0.bin", "looks like ours")):
        with open(os.path.join(u, name), "w") as f:
            f.write(text)
    os.symlink("notes.txt", os.path.join(u, "link"))
    os.mkfifo(os.path.join(u, "fifo"))
    return u


def make_checkpoint(d):
    """A real checkpoint of resume.ini: run, wait for the first .bin, SIGTERM (exit 75).
    Returns (output path, [checkpoint files])."""
    out = os.path.join(d, "resume.h5")
    p = subprocess.Popen(cmd(["run", RESUME, "-o", out]), env=env(), stderr=subprocess.PIPE,
                         text=True)
    ck = out + ".ckpt"
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if os.path.isdir(ck) and any(f.endswith(".bin") for f in os.listdir(ck)):
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 75, (p.returncode, err)
    bins = sorted(os.path.join(ck, f) for f in os.listdir(ck) if f.endswith(".bin"))
    assert bins, os.listdir(ck)
    return out, bins


FNV_OFF, FNV_PRIME = 14695981039346656037, 1099511628211


def fnv(data, h=FNV_OFF):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def parse_ckpt(raw):
    """(header bytes, [(hdr tuple, records bytes)], trailing bytes) of a checkpoint file."""
    assert raw[:8] == b"BPSCKPT1"
    nb = struct.unpack_from("<I", raw, 20)[0]
    off, blocks = 24, []
    for _ in range(nb):
        hdr = struct.unpack_from("<4i", raw, off)
        nd = hdr[2] * hdr[3]
        recs = raw[off + 16:off + 16 + 8 * nd]
        blocks.append((hdr, recs))
        off += 16 + 8 * nd + 8
    return raw[:24], blocks, raw[off:]


def build_ckpt(head, blocks, tail=b"", nb=None):
    """A checkpoint with valid checksums (the FNV checksum is public: a forger can)."""
    nb = len(blocks) if nb is None else nb
    out = bytearray(head[:20] + struct.pack("<I", nb))
    for hdr, recs in blocks:
        h = struct.pack("<4i", *hdr)
        out += h + recs + struct.pack("<Q", fnv(recs, fnv(h)))
    return bytes(out + tail)


def checkpoint_cases(d):
    """3: crafted checkpoints, each refused with exit 4 before computing."""
    work = os.path.join(d, "ck")
    os.mkdir(work)
    user = make_user(work)
    out, bins = make_checkpoint(work)
    ck = out + ".ckpt"
    orig = {b: open(b, "rb").read() for b in bins}
    b0 = bins[0]
    head, blocks, tail = parse_ckpt(orig[b0])
    assert tail == b"" and blocks, (len(tail), len(blocks))
    (n, b, cnt, w), recs = blocks[0]
    variants = [
        ("count one more", [((n, b, cnt + 1, w), recs + recs[:8 * w])] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("count one less", [((n, b, cnt - 1, w), recs[:-8 * w])] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("count huge", [((n, b, 2**31 - 1, w), recs)] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("block number beyond the plan", [((n, 10**6, cnt, w), recs)] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("negative block number", [((n, -1, cnt, w), recs)] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("row width", [((n, b, cnt, w + 1), recs + recs[:8 * cnt])] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("n not scanned", [((n + 100, b, cnt, w), recs)] + blocks[1:], b"", None,
         ["does not fit this job's plan"]),
        ("trailing garbage", blocks, b"\0" * 7, None, ["bytes after its last block"]),
        ("block count beyond the plan", blocks, b"", 2**32 - 1, ["blocks, the plan has"]),
        ("block count above the blocks", blocks, b"", len(blocks) + 1, ["truncated"]),
    ]
    for name, blks, tl, nb, words in variants:
        with open(b0, "wb") as f:
            f.write(build_ckpt(head, blks, tl, nb))
        expect(["run", RESUME, "-o", out, "--resume"], 4, [b0] + words, work,
               skip=("resume.h5.ckpt",), ranks=2 if name == "count one more" else 0)
        assert not os.path.exists(out)
    # a checksum mismatch and a bad magic
    with open(b0, "wb") as f:
        f.write(orig[b0][:-1] + bytes([orig[b0][-1] ^ 1]))
    expect(["run", RESUME, "-o", out, "--resume"], 4, [b0, "checksum"], work,
           skip=("resume.h5.ckpt",))
    with open(b0, "wb") as f:
        f.write(b"NOTACKPT" + orig[b0][8:])
    expect(["run", RESUME, "-o", out, "--resume"], 4, [b0, "bad header"], work,
           skip=("resume.h5.ckpt",))
    # a FIFO and a link named like a checkpoint file: refused, never opened for reading
    with open(b0, "wb") as f:
        f.write(orig[b0])
    fifo = os.path.join(ck, "run99-r7.bin")
    os.mkfifo(fifo)
    expect(["run", RESUME, "-o", out, "--resume"], 4, [fifo, "not a regular file"], work,
           skip=("resume.h5.ckpt",), timeout=60)
    os.unlink(fifo)
    link = os.path.join(ck, "run98-r7.bin")
    os.symlink(os.path.join(user, "run1-r0.bin"), link)
    expect(["run", RESUME, "-o", out, "--resume"], 4, [link], work, skip=("resume.h5.ckpt",))
    os.unlink(link)
    # the untouched checkpoint resumes (a leftover visibility marker is neither read nor
    # kept); foreign files in the directory are left alone, and so is the directory
    for name in ("notes.txt", "run-x.bin", "runZZ-r0.bin"):
        with open(os.path.join(ck, name), "w") as f:
            f.write("the user's\n")
    with open(os.path.join(ck, "visible-run1f-r3.mark"), "w") as f:  # a killed resume's marker
        f.write("host\n")
    p = expect(["run", RESUME, "-o", out, "--resume"], 0, ["resuming:", "left in place"],
               work, skip=("resume.h5", "resume.h5.ckpt"))
    assert sorted(os.listdir(ck)) == ["notes.txt", "run-x.bin", "runZZ-r0.bin"], os.listdir(ck)
    shutil.rmtree(ck)
    os.unlink(out)


def checkpoint_path_cases(d):
    """1: the checkpoint path is a link, a file, or holds foreign files."""
    work = os.path.join(d, "cp")
    os.mkdir(work)
    user = make_user(work)
    out = os.path.join(work, "tiny.h5")
    ck = out + ".ckpt"
    os.symlink(user, ck)  # a link to the user's directory (which holds run1-r0.bin)
    for extra in ([], ["--resume"]):
        expect(["run", TINY, "-o", out] + extra, 4, [ck, "symbolic link"], work)
        assert not os.path.exists(out)
    p = expect(["run", TINY, "-o", out, "--resume"], 4, [ck, "symbolic link"], work, ranks=2)
    assert p.stderr.count("bpscan: error") == 1, p.stderr
    os.unlink(ck)
    os.symlink("no-such-dir", ck)  # dangling
    expect(["run", TINY, "-o", out, "--resume"], 4, [ck, "symbolic link"], work)
    os.unlink(ck)
    with open(ck, "w") as f:
        f.write("a file of the user\n")
    for extra in ([], ["--resume"]):
        expect(["run", TINY, "-o", out] + extra, 4, [ck, "not a directory"], work)
    os.unlink(ck)
    # a directory of foreign files only: resumed from nothing, the files stay
    os.mkdir(ck)
    with open(os.path.join(ck, "notes.txt"), "w") as f:
        f.write("x")
    expect(["run", TINY, "-o", out, "--resume"], 0, ["no checkpoint found", "left in place"],
           work, skip=("tiny.h5", "tiny.h5.ckpt"))
    assert os.listdir(ck) == ["notes.txt"]
    shutil.rmtree(ck)
    os.unlink(out)


def result_cases(d):
    """2 and 4: crafted result files and FIFOs for info and merge."""
    work = os.path.join(d, "rs")
    os.mkdir(work)
    user = make_user(work)
    good = os.path.join(work, "good.h5")
    run(["run", TINY, "-o", good])
    pieces = [os.path.join(work, "p%d.h5" % k) for k in range(2)]
    for k, p in enumerate(pieces):
        run(["run", TINY, "-o", p, "--slice", "%d/2" % k])
    crafted = os.path.join(work, "crafted.h5")
    merged = os.path.join(work, "merged.h5")

    def variant(src, fn):
        shutil.copy(src, crafted)
        with h5py.File(crafted, "r+") as f:
            fn(f)

    def arr(f, name, value, where="/"):
        g = f[where]
        del g.attrs[name]
        g.attrs[name] = value

    attr_cases = [
        ("schema_version", lambda f: arr(f, "schema_version", np.array([1, 1], "i4")),
         "schema_version"),
        ("schema_version 16000 elements",
         lambda f: arr(f, "schema_version", np.ones(16000, "i4")), "schema_version"),
        ("host as a string array", lambda f: arr(f, "host", np.array([b"a", b"b"])), "host"),
        ("job as a string array", lambda f: arr(f, "job", np.array(["x" * 50] * 40, dtype=h5py.string_dtype())), "job"),
        ("num_samples", lambda f: arr(f, "num_samples", np.arange(64, dtype="i8"), "/n2"),
         "num_samples"),
        ("schema_version a string", lambda f: arr(f, "schema_version", "1"), "schema_version"),
        ("job a number", lambda f: arr(f, "job", 7), "job"),
        ("seed with an empty dataspace", lambda f: arr(f, "seed", h5py.Empty("u8")), "seed"),
    ]
    for name, fn, attr in attr_cases:
        variant(good, fn)
        expect(["info", crafted], 1, [crafted, attr], work, skip=("crafted.h5",))
    piece_cases = [
        ("slice_index array", lambda f: arr(f, "slice_index", np.array([0, 1], "i4")),
         ["slice_index"]),
        ("slice_count huge", lambda f: arr(f, "slice_count", np.int32(2000000000)),
         ["slice_count", "2000000000"]),
        ("samples_total array", lambda f: arr(f, "samples_total", np.arange(3, dtype="i8"), "/n1"),
         ["samples_total"]),
    ]
    for name, fn, words in piece_cases:
        variant(pieces[0], fn)
        expect(["merge", merged, crafted, pieces[1]], 2, [crafted] + words, work,
               skip=("crafted.h5", "merged.h5"))
        assert not os.path.exists(merged)
    # FIFOs: info and merge refuse them at once; --force does not replace one; nor a device
    fifo = os.path.join(user, "fifo")
    expect(["info", fifo], 1, [fifo, "not a regular file"], work, timeout=30)
    expect(["check", fifo], 2, [fifo, "not a regular file"], work, timeout=30)
    expect(["merge", merged, fifo, pieces[1]], 2, [fifo, "not a regular file"], work,
           skip=("merged.h5",), timeout=30)
    expect(["merge", "--force", fifo, pieces[0], pieces[1]], 6, [fifo, "not a regular file"],
           work, timeout=60)
    expect(["run", TINY, "-o", fifo, "--force"], 6, [fifo, "only regular files"], work,
           timeout=60)
    if os.geteuid() == 0:
        dev = os.path.join(user, "null-device")
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        expect(["run", TINY, "-o", dev, "--force"], 6, [dev, "only regular files"], work)
        assert stat.S_ISCHR(os.lstat(dev).st_mode)
        os.unlink(dev)
    # --force on a link replaces the link, never its target
    link = os.path.join(work, "link.h5")
    os.symlink(os.path.join(user, "notes.txt"), link)
    expect(["run", TINY, "-o", link], 3, [link, "exists"], work, skip=())
    expect(["run", TINY, "-o", link, "--force"], 0, [], work, skip=("link.h5",))
    assert not os.path.islink(link) and h5py.is_hdf5(link)


def damaged_heap_cases(d):
    """8: a damaged HDF5 global heap (a variable-length string object claiming 2^46 bytes,
    the effect of one flipped bit) crashes HDF5 1.10 inside H5HG_read; info and merge read
    in a child process first and exit 1 / 2 naming the file, never by a signal."""
    global NCASES
    work = os.path.join(d, "heap")
    os.mkdir(work)
    good = os.path.join(work, "good.h5")
    run(["run", TINY, "-o", good])
    pieces = [os.path.join(work, "p%d.h5" % k) for k in range(2)]
    for k, p in enumerate(pieces):
        run(["run", TINY, "-o", p, "--slice", "%d/2" % k])
    contained = 0
    for src, kind in ((good, "info"), (pieces[0], "merge")):
        raw = open(src, "rb").read()
        g = raw.find(b"GCOL")
        assert g > 0, "no global heap in " + src
        end = g + struct.unpack_from("<Q", raw, g + 8)[0]
        off = g + 16
        while off + 16 <= end:
            idx, _, _, size = struct.unpack_from("<HHIQ", raw, off)
            if idx == 0:
                break
            bad = bytearray(raw)
            struct.pack_into("<Q", bad, off + 8, size | (0x40 << 40))
            x = os.path.join(work, "damaged.h5")
            with open(x, "wb") as f:
                f.write(bad)
            args = ["info", x] if kind == "info" else ["merge", "--force",
                                                         os.path.join(work, "m.h5"), x,
                                                         pieces[1]]
            p = subprocess.run(cmd(args), env=env(), capture_output=True, text=True, timeout=60)
            ok = (0, 1) if kind == "info" else (0, 2)
            assert p.returncode in ok, "%s: exit %d (object %d)\n%s" % (args, p.returncode, idx,
                                                                      p.stderr)
            if "reading it crashed" in p.stderr:
                assert x in p.stderr
                contained += 1
            NCASES += 1
            off += 16 + (size + 7) // 8 * 8
    print("damaged global heap objects: %d crashes inside HDF5 contained" % contained)
    if h5py.version.hdf5_version.startswith("1.10."):
        assert contained >= 1, "no damaged heap object crashed HDF5 %s" % h5py.version.hdf5_version
    assert not [f for f in os.listdir(work) if ".tmp." in f]


def job_cases(d):
    """5, 6, 7: qubit limits, --slice, params names, checkpoint_seconds, output paths."""
    work = os.path.join(d, "jb")
    os.mkdir(work)
    make_user(work)
    out = os.path.join(work, "o.h5")
    # 5: qubit counts beyond what the models do
    bad = os.path.join(ROOT, "jobs", "test", "bad", "haar-perceptron-too-wide.ini")
    expect(["check", bad], 2, [bad + ":9", "perceptron = haar", "more than 15"], work)
    bad = os.path.join(ROOT, "jobs", "test", "bad", "pauli-perceptron-too-wide.ini")
    expect(["run", bad, "-o", out], 2, [bad + ":9", "perceptron = pauli", "more than 10"], work)
    expect(["run", TINY, "-o", out, "--set", "dqnn.widths=n,1", "--set", "scan.qubits=16"], 2,
           ["--set dqnn.widths", "more than 15"], work)
    expect(["run", TINY, "-o", out, "--set", "dqnn.widths=n,1", "--set",
            "dqnn.perceptron=pauli", "--set", "scan.qubits=10"], 2, ["more than 10"], work)
    # (refused from the model's shape, before sample 0 is drawn: seconds, not minutes)
    for job, q in (("tiny-hea.ini", 30), ("tiny-hea.ini", 25), ("tiny-vh.ini", 20),
                   ("tiny-vh.ini", 25)):
        p = expect(["check", os.path.join(JOBS, job), "--set", "scan.qubits=%d" % q], 5,
                   ["BPS_ERR_TOO_BIG", "n = %d" % q], work, timeout=30)
        assert "refused: n = %d" % q in p.stdout, p.stdout
    expect(["run", os.path.join(JOBS, "tiny-hea.ini"), "-o", out, "--set", "scan.qubits=30"], 5,
           ["BPS_ERR_TOO_BIG"], work, timeout=60)
    assert not os.path.exists(out)
    # mode = moments keeps its large n
    expect(["check", os.path.join(JOBS, "tiny.ini"), "--set", "scan.mode=moments", "--set",
            "scan.qubits=64", "--set", "dqnn.widths=n,1"], 0, [], work, timeout=120)
    # the result's own memory: records held until the reduction
    p = expect(["check", TINY, "--set", "scan.samples=2000000000", "--set",
                "dqnn.widths=n,n", "--set", "scan.qubits=1:3"], 5,
               ["records a rank holds"], work, timeout=120)
    # 6: --slice
    for s in ("4294967296/3", "1/1000001", "-1/3", "1/+3", " 1/3", "1/3x", "3/3", "0/0",
              "99999999999999999999/3"):
        expect(["run", TINY, "-o", out, "--slice", s], 2, ["--slice needs K/N"], work)
    # 7: [gradient] params with file:line, checkpoint_seconds, dangling link, restart
    job = os.path.join(work, "params.ini")
    with open(TINY) as f:
        text = f.read()
    with open(job, "w") as f:
        f.write(text + "\n[gradient]\nparams = l1.p1.g1, zz9\n")
    line = text.count("\n") + 3
    expect(["check", job], 2, [job + ":%d" % line, "no parameter named 'zz9'"], work,
           skip=("params.ini",))
    p = expect(["check", TINY, "--set", "output.checkpoint_seconds=1e-320"], 0, [], work)
    assert "plan OK" in p.stdout, p.stdout
    expect(["check", TINY, "--set", "output.checkpoint_seconds=1e-400"], 2, ["underflows to 0"],
           work)
    dang = os.path.join(work, "dangling.h5")
    os.symlink(os.path.join(work, "nowhere", "x.h5"), dang)
    expect(["run", TINY, "-o", dang], 3, [dang, "dangling symbolic link"], work, timeout=30)
    os.unlink(dang)
    # killed after the final rename: the restart finds the finished result (exit 0)
    run(["run", TINY, "-o", out])
    with open(out, "rb") as f:
        res = f.read()
    os.mkdir(out + ".ckpt")
    expect(["run", TINY, "-o", out], 3, [out, "exists"], work, skip=("o.h5", "o.h5.ckpt"))
    expect(["run", TINY, "-o", out], 0, ["already the finished result"], work,
           skip=("o.h5", "o.h5.ckpt"), env_extra={"SLURM_RESTART_COUNT": "1"})
    assert not os.path.exists(out + ".ckpt") and open(out, "rb").read() == res
    # ... but not the result of another job, nor another slice
    os.mkdir(out + ".ckpt")
    expect(["run", TINY, "-o", out, "--resume", "--set", "scan.samples=32"], 3, [out, "exists"],
           work, skip=("o.h5", "o.h5.ckpt"))
    expect(["run", TINY, "-o", out, "--resume", "--slice", "0/2"], 3, [out, "exists"], work,
           skip=("o.h5", "o.h5.ckpt"))
    os.rmdir(out + ".ckpt")
    # stale temporary files: removed when their pid is gone (and untouched for a minute);
    # kept when the pid runs, when recent, or when not an HDF5 file
    dead = [subprocess.Popen(["true"]) for _ in range(2)]
    for p in dead:
        p.wait()
    stale = out + ".tmp.%d" % dead[0].pid
    live = out + ".tmp.%d" % os.getpid()
    recent = out + ".tmp.%d" % dead[1].pid
    foreign = out + ".tmp.999999999"
    for p, data in ((stale, res[:4096]), (live, res[:4096]), (recent, res[:4096]),
                    (foreign, b"not hdf5")):
        with open(p, "wb") as f:
            f.write(data)
    old = time.time() - 3600
    for p in (stale, live, foreign):
        os.utime(p, (old, old))
    expect(["run", TINY, "-o", out, "--force"], 0, ["removed " + stale], work,
           skip=tuple(os.path.basename(p) for p in (out, stale, live, recent, foreign)))
    assert not os.path.exists(stale)
    assert os.path.exists(live) and os.path.exists(foreign) and os.path.exists(recent)


with tempfile.TemporaryDirectory() as d:
    checkpoint_path_cases(d)
    result_cases(d)
    job_cases(d)
    checkpoint_cases(d)
    damaged_heap_cases(d)
print("m300: %d hostile cases passed" % NCASES)
