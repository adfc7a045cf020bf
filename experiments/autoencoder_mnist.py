"""An undercomplete MLP autoencoder on MNIST (784-512-512-32), one run through the loop.

Run:
  python -m jaxgen.main --config experiments/autoencoder_mnist.py --workdir runs/ae_mnist
  (make ae); per-step dispatch instead of a scanned epoch: add --config.train.steps_per_scan=1;
  eight seeds side by side: add --config.num_seeds=8
"""

from __future__ import annotations

from jaxgen.config import ConfigDict
from jaxgen.families import autoencoder


def get_config(arg: str | None = None) -> ConfigDict:
    c = autoencoder.config("mnist", code_size=32, num_layers=2, hidden_size=512, loss="bce")
    c.train.num_epochs = 10
    c.train.batch_size = 128
    c.optimizer.lr = 1e-3
    if arg == "quick":
        c.train.num_epochs = 2
    return c
