"""spopt's regionalisers on the township bench_rebalance wrote: the same units, the same
contiguity (the unit graph's edges), the same number of regions.

Each solver runs in a child process with a time limit, starting at the finest resolution
it is practical at (Region-K-means took over 120 s on the 27,000 resolution-11 units of
the benchmark's township, so it starts at 10); one that does not finish in time is run again on coarser units (H3
resolution 10, then 9), and the output says so. None is dropped silently.

Usage: bench_rebalance_spopt.py OUT_DIR (the folder bench_rebalance wrote).
"""

import multiprocessing as mp
import sys
import time
import warnings

warnings.filterwarnings("ignore")

# (solver, resolutions to try in order, seconds allowed per try)
PLAN = [
    ("Region-K-means", [10, 9], 90),
    ("SKATER", [10, 9], 90),
    ("AZP", [9], 150),
    ("max-p", [9], 150),
]


def load(out, res):
    import numpy as np
    import pandas as pd

    units = pd.read_csv(f"{out}/units-r{res}.csv")
    edges = pd.read_csv(f"{out}/edges-r{res}.csv")
    n = len(units)
    neighbours = {i: [] for i in range(n)}
    for a, b in zip(edges.a.to_numpy(), edges.b.to_numpy()):
        neighbours[int(a)].append(int(b))
        neighbours[int(b)].append(int(a))
    ours = open(f"{out}/ours-r{res}.txt").read().split()
    return units, neighbours, float(ours[0]), np


def solve(name, out, res, k, queue):
    import geopandas as gpd
    import libpysal

    units, neighbours, _, np = load(out, res)
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    gdf = gpd.GeoDataFrame(
        units, geometry=gpd.points_from_xy(units.lon, units.lat), crs="EPSG:4326"
    )
    # Compactness is what these solvers can be asked for: regions homogeneous in position.
    attrs = ["lon", "lat"]
    start = time.perf_counter()
    if name == "Region-K-means":
        from spopt.region import RegionKMeansHeuristic

        model = RegionKMeansHeuristic(gdf[attrs].to_numpy(), k, w)
    elif name == "SKATER":
        from spopt.region import Skater

        model = Skater(gdf, w, attrs, n_clusters=k, floor=1, islands="ignore")
    elif name == "AZP":
        from spopt.region import AZP

        model = AZP(gdf, w, attrs, n_clusters=k, random_state=0)
    else:
        from spopt.region import MaxPHeuristic

        threshold = units.load.sum() / k
        model = MaxPHeuristic(gdf, w, attrs, "load", threshold, top_n=2)
    model.solve()
    elapsed = time.perf_counter() - start
    queue.put((elapsed, [int(x) for x in np.asarray(model.labels_)]))


def figures(units, neighbours, labels, k):
    loads = {}
    for label, load in zip(labels, units.load):
        loads[label] = loads.get(label, 0.0) + load
    target = units.load.sum() / k
    worst = max(abs(v / target - 1) for v in loads.values())
    members = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    contiguous = 0
    for label, ms in members.items():
        seen = {ms[0]}
        stack = [ms[0]]
        while stack:
            u = stack.pop()
            for v in neighbours[u]:
                if v not in seen and labels[v] == label:
                    seen.add(v)
                    stack.append(v)
        contiguous += len(seen) == len(ms)
    return len(members), worst, contiguous / len(members)


def speed(ours, theirs):
    """Which finished first and by how many times, readable at any ratio."""
    if ours <= 0 or theirs <= 0:
        return "times too small to compare"
    if ours <= theirs:
        return f"ours {theirs / ours:,.{digits(theirs / ours)}f}\u00d7 faster"
    return f"ours {ours / theirs:,.{digits(ours / theirs)}f}\u00d7 slower"


def seconds(t):
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def digits(ratio):
    """Decimals enough for three significant digits, none past 100."""
    return 0 if ratio >= 100 else 1 if ratio >= 10 else 2


def main():
    out = sys.argv[1]
    k = int(open(f"{out}/params.txt").read().split()[0])
    print(f"==> spopt on the same township, {k} regions, the same unit graph")
    for name, resolutions, limit in PLAN:
        for res in resolutions:
            queue = mp.Queue()
            child = mp.Process(target=solve, args=(name, out, res, k, queue))
            child.start()
            child.join(limit)
            if child.is_alive():
                child.terminate()
                child.join()
                print(f"{name}: not done after {limit} s at resolution {res}", end="")
                print("; trying coarser units" if res != resolutions[-1] else "; gave up")
                continue
            if queue.empty():
                print(f"{name}: failed at resolution {res} (exit code {child.exitcode})")
                continue
            elapsed, labels = queue.get()
            units, neighbours, ours, _ = load(out, res)
            regions, worst, contiguous = figures(units, neighbours, labels, k)
            coarse = "" if res == 11 else f" (coarser units: resolution {res})"
            print(
                f"{name}{coarse}: {len(units)} units, {regions} regions, {elapsed:.2f} s, "
                f"largest deviation from equal load {100 * worst:+.1f}%, "
                f"contiguous {100 * contiguous:.0f}% of regions; "
                f"ours at resolution {res}: {seconds(ours)}, {speed(ours, elapsed)}"
            )
            break


if __name__ == "__main__":
    main()
