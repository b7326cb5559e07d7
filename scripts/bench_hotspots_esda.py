"""The esda half of scripts/bench-hotspots.sh.

Reads the cases analysis/examples/bench_gistar.rs wrote (values, ring-1 weights as CSR,
its z-scores, pseudo p-values and times), builds a libpysal Graph from the same weights,
times esda's G_Local(star=True, transform='B') on it (the statistic only, after a warm-up
that compiles numba's kernels; with permutations, keep_simulations=False and the better of
n_jobs=1 and n_jobs=2), and prints, per case, both times, their ratio and the largest
absolute difference between the two sets of z-scores.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from esda.getisord import G_Local
from libpysal.graph import Graph

warnings.filterwarnings("ignore")


def graph_from_csr(indptr, indices):
    n = len(indptr) - 1
    data = np.ones(len(indices), dtype=np.float64)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    return Graph.from_sparse(matrix)


def warm_up():
    # A ring of 200 locations: compiles the crand kernels for float64 before any timing.
    n = 200
    rows = np.repeat(np.arange(n), 2)
    cols = np.column_stack(((np.arange(n) + 1) % n, (np.arange(n) - 1) % n)).ravel()
    matrix = sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n))
    y = np.random.default_rng(0).random(n) + 1.0
    for n_jobs in (1, 2):
        G_Local(y, Graph.from_sparse(matrix), transform="B", star=True,
                permutations=99, keep_simulations=False, n_jobs=n_jobs, seed=1)


def timed(y, graph, permutations, n_jobs, seed=2024):
    started = time.perf_counter()
    result = G_Local(y, graph, transform="B", star=True, permutations=permutations,
                     keep_simulations=False, n_jobs=n_jobs, seed=seed)
    return time.perf_counter() - started, result


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench-hotspots")
    warm_up()
    rows = []
    for case in ("analytic_1m", "permutations_100k"):
        read = lambda suffix, dtype: np.fromfile(folder / f"{case}.{suffix}", dtype=dtype)
        y = read("values.f64", "<f8")
        indptr = read("indptr.i64", "<i8")
        indices = read("indices.i32", "<i4")
        z_rust = read("z.f64", "<f8")
        p_sim_rust = read("p_sim.f64", "<f8")
        times = dict(line.split() for line in (folder / f"{case}.times").read_text().splitlines())
        permutations = int(times["permutations"])
        graph = graph_from_csr(indptr, indices)
        if permutations == 0:
            esda_s, result = timed(y, graph, 0, 1)
            jobs = "-"
        else:
            runs = {n_jobs: timed(y, graph, permutations, n_jobs) for n_jobs in (1, 2)}
            best = min(runs, key=lambda j: runs[j][0])
            esda_s, result = runs[best]
            jobs = f"n_jobs={best} ({runs[1][0]:.2f} s / {runs[2][0]:.2f} s)"
        rust_s = float(times["statistic_s"])
        dz = float(np.max(np.abs(result.Zs - z_rust)))
        rows.append((case, len(y), permutations, rust_s, esda_s, esda_s / rust_s, dz, jobs,
                     float(times["weights_s"])))
        if permutations:
            agree = np.mean((result.p_sim <= 0.05) == (p_sim_rust <= 0.05))
            mean_gap = np.mean(np.abs(result.p_sim - p_sim_rust))
            print(f"{case}: p_sim <= 0.05 agrees at {agree:.4f} of cells; "
                  f"mean |p_sim(rust) - p_sim(esda)| = {mean_gap:.4f} (different random draws)")
    print()
    print(f"{'case':<18} {'cells':>9} {'perms':>5} {'rust s':>8} {'esda s':>8} {'esda/rust':>9} "
          f"{'max |dz|':>9}  esda configuration (rust weights built in)")
    for case, n, perms, rust_s, esda_s, ratio, dz, jobs, weights_s in rows:
        print(f"{case:<18} {n:>9} {perms:>5} {rust_s:>8.3f} {esda_s:>8.3f} {ratio:>8.1f}x "
              f"{dz:>9.1e}  {jobs} ({weights_s:.2f} s)")
    failed = [r[0] for r in rows if r[6] > 1e-9]
    if failed:
        print(f"z-scores differ by more than 1e-9 in: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
