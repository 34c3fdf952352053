"""Training curves: a run's ``metrics.csv`` drawn as a PNG with matplotlib (chapters 6-7).

``rfs plot DIR/metrics.csv`` draws the reward and the sampled accuracy with the greedy test accuracy, the
mean completion length, and the KL to the reference (or, without one, the entropy) against the step.
"""

from __future__ import annotations

from pathlib import Path

PANELS = [("reward and accuracy", ["reward", "accuracy", "eval_accuracy"]),
          ("completion length (tokens)", ["mean_length", "eval_length"]),
          ("KL to the reference", ["kl"]),
          ("entropy (nats per token)", ["entropy"])]
LABELS = {"reward": "reward (samples)", "accuracy": "accuracy (samples)", "eval_accuracy": "greedy test accuracy",
          "mean_length": "samples", "eval_length": "greedy test answers", "kl": "k3 KL", "entropy": "entropy"}


def plot_metrics(csv_path: str | Path, png_path: str | Path | None = None, title: str | None = None) -> Path:
    """Draw reward, accuracy, length, KL and entropy against steps from ``csv_path``; save a PNG and return its path.

    The PNG goes next to the CSV (``metrics.png``) unless ``png_path`` is given. Evaluation columns have values
    only on evaluated steps; they are drawn as points joined by lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rfs.checkpoint import read_metrics

    csv_path = Path(csv_path)
    rows = read_metrics(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} holds no steps yet")
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    same = all(r["reward"] == r["accuracy"] for r in rows if r.get("reward") is not None)
    kl_off = not any(r.get("kl") for r in rows)
    for ax, (name, columns) in zip(axes.flat, PANELS, strict=True):
        if kl_off and "kl" in columns:
            name += " (no KL term in this run)"
        for column in columns:
            if same and column == "accuracy":
                continue  # the reward is the accuracy: one line
            # step s: the samples drawn, or the test answered, by the weights after s updates
            points = [(r["step"], r[column]) for r in rows if r.get(column) is not None]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, marker="o" if column.startswith("eval") else None, markersize=3,
                        label=LABELS[column])
        ax.set(title=name)
        if ax.has_data():
            ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set(xlabel="step")
    fig.suptitle(title or csv_path.parent.name)
    fig.tight_layout()
    png_path = Path(png_path) if png_path else csv_path.with_suffix(".png")
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path
