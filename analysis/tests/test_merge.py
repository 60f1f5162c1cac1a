"""Loading several files: pieces of one job merge by qubit count (samples concatenated,
statistics recomputed), different jobs stay separate, conflicting duplicates are refused."""
import numpy as np
import pytest

import synth
from bpscan_analysis import AnalysisError, analyze, grad_series, load


def var(n, p):
    return 0.2 * 2.0 ** -n


@pytest.fixture
def data():
    return synth.draw(range(1, 6), var, 300, seed=21)


def pieces(tmp_path, data, k, order=None, count=None):
    """Array-job pieces: sample s goes to piece s % k (like bpscan run --slice K/N)."""
    paths = []
    for i in order if order is not None else range(k):
        rows = {n: np.arange(d["cost"].size)[np.arange(d["cost"].size) % k == i] for n, d in data.items()}
        paths.append(synth.write(tmp_path / ("piece%d.h5" % i), data, rows=rows, slice_index=i,
                                 slice_count=count or k,
                                 job=synth.job_text(path="piece%d.h5" % i)))
    return paths


def test_pieces_merge_to_the_full_scan(tmp_path, data):
    full = synth.write(tmp_path / "full.h5", data)
    (a,) = load([full])
    (b,) = load(pieces(tmp_path, data, 3, order=[2, 0, 1]))
    assert len(b.files) == 3 and not b.warnings
    for n in a.data:
        assert b.data[n].samples == 300
        assert np.array_equal(a.data[n].grad, b.data[n].grad)
        assert np.array_equal(a.data[n].cost, b.data[n].cost)
        assert np.array_equal(b.data[n].index, np.arange(300))
    sa, sb = grad_series(a)[0], grad_series(b)[0]
    assert np.array_equal(sa.value, sb.value) and np.array_equal(sa.se, sb.se)


def test_pieces_by_qubit_count(tmp_path, data):
    """Files of the same job holding different qubit counts are joined by n."""
    lo = {n: d for n, d in data.items() if n <= 2}
    hi = {n: d for n, d in data.items() if n > 2}
    p1 = synth.write(tmp_path / "lo.h5", lo, job=synth.job_text(path="lo.h5"))
    p2 = synth.write(tmp_path / "hi.h5", hi, job=synth.job_text(path="/elsewhere/hi.h5"), job_hash=99)
    scans = load([p1, p2])
    assert len(scans) == 1 and list(scans[0].n) == [1, 2, 3, 4, 5]


def test_missing_piece_warns(tmp_path, data):
    (s,) = load(pieces(tmp_path, data, 3, order=[0, 2]))
    assert any("piece(s) 1 of 3 missing" in w for w in s.warnings)
    assert any("200 of 300 samples" in w for w in s.warnings)
    assert s.data[3].samples == 200


def test_identical_duplicate_counted_once(tmp_path, data):
    full = synth.write(tmp_path / "full.h5", data)
    ps = pieces(tmp_path, data, 2)
    (s,) = load([full, full] + ps)
    assert s.data[4].samples == 300
    assert any("identical values" in w for w in s.warnings)


def test_conflicting_duplicates_refused(tmp_path, data):
    a = synth.write(tmp_path / "a.h5", data)
    other = synth.draw(range(1, 6), var, 300, seed=22)           # same job and seed, other values
    b = synth.write(tmp_path / "b.h5", other)
    with pytest.raises(AnalysisError, match=r"conflicting duplicates: n=1 sample 0 \(seed 1\)"):
        load([a, b])


def test_different_parameters_refused(tmp_path, data):
    a = synth.write(tmp_path / "a.h5", data)
    other = synth.draw(range(1, 6), var, 300, seed=21, names=["l1.p1.g1"])
    b = synth.write(tmp_path / "b.h5", other)
    with pytest.raises(AnalysisError, match="track different parameters"):
        load([a, b])


def test_different_jobs_stay_separate(tmp_path, data):
    g = synth.write(tmp_path / "g.h5", data, job=synth.job_text(cost="global"))
    loc = synth.write(tmp_path / "l.h5", synth.draw(range(1, 6), lambda n, p: 0.1 / n ** 2, 300, seed=3),
                      job=synth.job_text(cost="local"))
    scans = load([g, loc])
    assert [s.name for s in scans] == ["cost.type=global", "cost.type=local"]
    rep = analyze([g, loc], bootstrap=0)
    assert len(rep.fits) == 4
    assert load([g, loc], labels=["G", "L"])[1].name == "L"


def test_merge_modes_for_seeds(tmp_path, data):
    a = synth.write(tmp_path / "s1.h5", data, seed=1, job=synth.job_text(seed=1))
    b = synth.write(tmp_path / "s2.h5", synth.draw(range(1, 6), var, 300, seed=99), seed=2,
                    job=synth.job_text(seed=2))
    assert len(load([a, b])) == 2                          # different seed = different job
    (s,) = load([a, b], merge="ensemble")                  # pooled: 600 independent samples
    assert s.data[2].samples == 600
    assert len(load([a, a], merge="none")) == 2
    with pytest.raises(AnalysisError, match="unknown merge mode"):
        load([a], merge="bogus")


def test_layout_keys_pool_in_ensemble_mode(tmp_path, data):
    """merge='ensemble' compares only the keys of role result (job_json roles): seeds
    (ensemble) and store_samples (layout) may differ, the cost may not."""
    base = synth.job_text(seed=1)
    other = synth.job_text(seed=2)
    other.json["sections"]["output"]["store_samples"] = False
    a = synth.write(tmp_path / "s1.h5", data, seed=1, job=base)
    b = synth.write(tmp_path / "s2.h5", synth.draw(range(1, 6), var, 300, seed=5), seed=2,
                    job=other)
    c = synth.write(tmp_path / "c.h5", data, seed=3, job=synth.job_text(seed=3, cost="local"))
    scans = load([a, b, c], merge="ensemble")
    assert [len(s.files) for s in scans] == [2, 1] and scans[0].data[2].samples == 600
    assert [s.name for s in scans] == ["cost.type=global", "cost.type=local"]


def test_files_without_job_json(tmp_path, data):
    """Files of a bpscan that did not store job_json: one job by job_hash alone, known by
    their model only; merge='ensemble' needs the key roles and refuses them."""
    lo = {n: d for n, d in data.items() if n <= 2}
    hi = {n: d for n, d in data.items() if n > 2}
    p1 = synth.write(tmp_path / "lo.h5", lo, job=str(synth.job_text(path="lo.h5")), job_hash=5)
    p2 = synth.write(tmp_path / "hi.h5", hi, job=str(synth.job_text(path="hi.h5")), job_hash=5)
    p3 = synth.write(tmp_path / "x.h5", hi, job=str(synth.job_text(path="x.h5")), job_hash=6)
    (s,) = load([p1, p2])
    assert list(s.n) == [1, 2, 3, 4, 5] and s.job_json is None
    assert s.settings == {"scan.model": "dqnn"} and s.name.startswith("dqnn")
    assert len(load([p1, p3])) == 2
    with pytest.raises(AnalysisError, match="job_json"):
        load([p1, p2], merge="ensemble")
