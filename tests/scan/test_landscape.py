"""m250: landscape scans ([scan] mode = landscape) end to end with the real executable.
1. The result file is bitwise identical for 1, 2 and 4 MPI ranks and 1 or 2 threads (random
   cuts of a DQNN, axis cuts of a visible/hidden network, 2-D planes of the toy DQNN).
2. Every cut passes its self-checks in the file: FFT slope f'(0) = adjoint dir . grad C to
   1e-10, aliasing at the rounding level, lipschitz <= bernstein, spread = max - min, the
   power by degree sums to cut_var (Parseval on the cut), the statistics datasets equal a
   numpy recomputation, the documented shapes (README "Result files").
3. Physics: the toy model's plane image equals the closed form
   C_G = 1 - prod_j cos^2(theta_j / 2) at every grid point (theta from the stored params and
   directions); axis cuts of the toy model give E[W_1] = Var[d_j C] = (1/8)(3/8)^(n-1)
   (global) within 4 standard errors and 1/(8 n^2) (local: the same for every theta0, the
   local cost being a sum of one-parameter terms) (physics.md Secs. 4.7, 5.4).
4. SIGTERM during a landscape scan: exit 75, checkpoint, --resume gives the uninterrupted file.
"""
import os
import signal
import subprocess
import tempfile
import time

import h5py
import numpy as np

from scanlib import JOBS, assert_same_data, cmd, env, run, run_in_subdir

SCALARS = ["cut_mean", "cut_var", "aliasing", "slope_fft", "slope_adjoint", "lipschitz",
           "bernstein", "spread", "cut_max", "cut_min"]


def check_file(path, directions):
    """Self-checks of every cut of a landscape result file; returns the number of cuts."""
    ncuts = 0
    with h5py.File(path, "r") as f:
        assert f.attrs["mode"] == "landscape", f.attrs.get("mode")
        for g in [f[k] for k in f if k.startswith("n") and k[1:].isdigit()]:
            L = g["landscape"]
            S = int(g.attrs["num_samples"])
            P = int(g.attrs["num_tracked"])
            assert L.attrs["directions"] == directions
            fields = L.attrs["fields"].split(",")
            deg, size = L["degree"][()], L["size"][()]
            assert all(size >= 2 * deg + 1), (deg, size)
            cols = {"random": (), "axes": (P,), "plane": ()}[directions]
            for name in SCALARS:
                assert name in fields, name
                shape = (S, 2) if directions == "plane" and name.startswith("slope") else (S,) + cols
                assert L[name].shape == shape, (name, L[name].shape, shape)
            sf, sa = L["slope_fft"][()], L["slope_adjoint"][()]
            scale = max(1.0, np.abs(sa).max())
            assert np.abs(sf - sa).max() <= 1e-10 * scale, np.abs(sf - sa).max()
            assert L["aliasing"][()].max() <= 1e-12, L["aliasing"][()].max()
            lip, bern = L["lipschitz"][()], L["bernstein"][()]
            assert np.all(lip <= bern * (1 + 1e-9) + 1e-13), (lip - bern).max()
            assert np.allclose(L["spread"][()], L["cut_max"][()] - L["cut_min"][()], rtol=0, atol=1e-14)
            power = L["power"][()]
            var = L["cut_var"][()]
            assert np.allclose(power[..., 1:].sum(axis=-1), var, rtol=1e-12, atol=1e-15)
            assert np.allclose(power[..., 0], L["cut_mean"][()] ** 2, rtol=1e-12, atol=1e-15)
            assert np.all(power >= 0)
            for name in fields:
                if name + "_mean" not in L:
                    continue
                x = L[name][()]
                m = x.mean(axis=0)
                v = x.var(axis=0, ddof=1)
                assert np.allclose(L[name + "_mean"][()], m, rtol=1e-12, atol=1e-15), name
                assert np.allclose(L[name + "_var"][()], v, rtol=1e-10, atol=1e-15), name
                assert L[name + "_mean_se"].shape == m.shape and L[name + "_var_se"].shape == m.shape
            nu = L["nu"][()]
            assert nu.shape == (S, P) and np.all(nu > 0)
            if directions == "random":
                k = L["direction"][()]
                assert k.shape == (S, P) and set(np.unique(k)) <= {-1.0, 1.0}
                assert power.shape == (S, deg[0] + 1)
            elif directions == "axes":
                assert power.shape == (S, P, deg.max() + 1)
                for j in range(P):  # zero beyond each cut's degree
                    assert np.all(power[:, j, deg[j] + 1:] == 0)
            else:
                k = L["direction"][()]
                assert k.shape == (S, 2, P)
                assert np.all(np.abs(k[:, 0, :]) + np.abs(k[:, 1, :]) == 1)  # disjoint supports
                img = L["image"][()]
                assert img.shape == (S, size[0], size[1])
                # f(0, 0) is the cost at theta0
                assert np.allclose(img[:, 0, 0], g["cost"][()], rtol=0, atol=1e-12)
                assert power.shape == (S, deg[0] + deg[1] + 1)
            ncuts += S * (P if directions == "axes" else 1)
    return ncuts


def check_toy_plane(path):
    """The plane image of the toy model equals the closed form of the global cost."""
    worst = 0.0
    with h5py.File(path, "r") as f:
        for g in [f[k] for k in f if k.startswith("n") and k[1:].isdigit()]:
            L = g["landscape"]
            th0 = g["params"][()]
            idx = g["param_index"][()]
            k, nu, img = L["direction"][()], L["nu"][()], L["image"][()]
            N1, N2 = img.shape[1:]
            t = 2 * np.pi * np.arange(N1) / N1
            u = 2 * np.pi * np.arange(N2) / N2
            for s in range(img.shape[0]):
                d1 = np.zeros(th0.shape[1])
                d2 = np.zeros(th0.shape[1])
                d1[idx] = k[s, 0] / nu[s]
                d2[idx] = k[s, 1] / nu[s]
                th = th0[s][None, None, :] + t[:, None, None] * d1 + u[None, :, None] * d2
                ref = 1 - np.prod(np.cos(th / 2) ** 2, axis=-1)
                worst = max(worst, np.abs(ref - img[s]).max())
    assert worst <= 1e-12, worst
    return worst


with tempfile.TemporaryDirectory() as d:
    # 1 + 2: rank/thread invariance and self-checks
    cases = [("tiny-landscape.ini", "random", [(2, 1), (4, 1), (1, 2)]),
             ("tiny-landscape-vh.ini", "axes", [(2, 1), (2, 2)]),
             ("tiny-landscape-plane.ini", "plane", [(4, 1), (1, 2)])]
    refs = {}
    for job, directions, configs in cases:
        path = os.path.join(JOBS, job)
        ref = run_in_subdir(d, path, 1, 1)
        refs[job] = ref
        for ranks, threads in configs:
            n = assert_same_data(ref, run_in_subdir(d, path, ranks, threads))
            print("%-26s %d rank(s) x %d thread(s): %d objects bitwise identical" % (job, ranks, threads, n))
        cuts = check_file(ref, directions)
        print("%-26s %d cuts: slopes FFT = adjoint, aliasing, Bernstein, Parseval, stats OK" % (job, cuts))

    # 3a: the toy plane against the closed form
    worst = check_toy_plane(refs["tiny-landscape-plane.ini"])
    print("toy plane images = 1 - prod cos^2(theta/2): max deviation %.2e" % worst)

    # 3b: toy axis cuts: E[W_1] = Var[d_j C]
    job = os.path.join(JOBS, "tiny-landscape.ini")
    for cost in ["global", "local"]:
        out = os.path.join(d, "toy-axes-%s.h5" % cost)
        run(["run", job, "-o", out, "--set", "dqnn.perceptron=toy", "--set", "scan.qubits=2:3",
             "--set", "landscape.directions=axes", "--set", "scan.samples=1500",
             "--set", "scan.block=250", "--set", "cost.type=" + cost], ranks=2)
        check_file(out, "axes")
        with h5py.File(out, "r") as f:
            for n in (2, 3):
                L = f["n%d/landscape" % n]
                want = 0.125 * 0.375 ** (n - 1) if cost == "global" else 1.0 / (8 * n * n)
                w1, se = L["power_mean"][:, 1], L["power_mean_se"][:, 1]
                # local cost: every cut's W_1 is exactly 1/(8 n^2) (SE at rounding level)
                z = np.abs(w1 - want) / (se + 1e-15)
                assert np.all(z < 4), (cost, n, w1, se, want)
                print("toy %s n = %d: E[W_1] = %s +- %s vs Var dC = %.6f (max %.1f SE)"
                      % (cost, n, np.array2string(w1, precision=6), np.array2string(se, precision=1),
                         want, z.max()))

    # 4: SIGTERM and resume
    job = os.path.join(JOBS, "tiny-landscape-vh.ini")
    extra = ["--set", "scan.samples=400", "--set", "scan.block=2",
             "--set", "output.checkpoint_seconds=0.05"]
    sub = os.path.join(d, "sigref")
    os.mkdir(sub)
    run(["run", job, "-o", "out.h5"] + extra, cwd=sub)
    ref = os.path.join(sub, "out.h5")
    sub = os.path.join(d, "sigterm")
    os.mkdir(sub)
    out = os.path.join(sub, "out.h5")
    p = subprocess.Popen(cmd(["run", job, "-o", "out.h5"] + extra), env=env(2), cwd=sub,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 120:
        ck = out + ".ckpt"
        if os.path.isdir(ck) and any(x.endswith(".bin") for x in os.listdir(ck)):
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 75, (p.returncode, err)
    assert os.path.isdir(out + ".ckpt") and not os.path.exists(out)
    run(["run", job, "-o", "out.h5", "--resume"] + extra, ranks=2, cwd=sub)
    n = assert_same_data(ref, out)
    print("SIGTERM (exit 75) + resume of a landscape scan: %d objects bitwise identical" % n)
print("1 passed, 0 failed")
