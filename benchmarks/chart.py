"""Draw the training-time comparison of a benchmark run as a PNG (needs matplotlib: the `bench` extra).

    python benchmarks/run.py --json results.json
    python benchmarks/chart.py results.json docs/benchmarks.png
"""
import json
import sys


def main(argv) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(argv[1]) as f:
        rows = json.load(f)["training"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 3.6))
    colors = {"engine": "#2b7bba", "engine, numpy kernels": "#9ecae1", "hand-written numpy": "#fdae6b",
              "torch": "#e6550d"}
    for ax, row in zip(axes, rows):
        names = list(row["ms"])
        ax.bar(range(len(names)), [row["ms"][n] for n in names], color=[colors.get(n, "gray") for n in names])
        ax.set_xticks(range(len(names)), [n.replace(", ", ",\n").replace(" numpy", "\nnumpy") for n in names],
                      fontsize=8)
        ax.set_title(row["workload"].replace(", +", ",\n+").replace(" (", "\n("), fontsize=9)
        ax.set_ylabel("ms (median, lower is better)", fontsize=8)
        for i, n in enumerate(names):
            ax.annotate(f"{row['ms'][n]:.1f}", (i, row["ms"][n]), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
