"""Learning curves of a training log: loss and accuracy per epoch, one PNG.

Takes ``matplotlib.pyplot`` as an argument, so that importing this module needs no extra.
"""

from __future__ import annotations

import io

from snnc.output import PNG_METADATA

SPLITS = ("train", "validation", "test")


def curves_png(log: list[dict], title: str, plt) -> bytes:
    """The PNG of loss (left) and accuracy (right) against the epoch, for every split."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [record["epoch"] for record in log]
    for split in SPLITS:
        if all(split in record for record in log):
            left.plot(epochs, [r[split]["loss"] for r in log], marker="o", label=split)
            right.plot(epochs, [100 * r[split]["accuracy"] for r in log], marker="o",
                       label=split)
    left.set(xlabel="epoch", ylabel="loss per sample", title=f"{title}: loss", yscale="log")
    right.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy", ylim=(0, 100))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata=PNG_METADATA)
    plt.close(fig)
    return buffer.getvalue()
