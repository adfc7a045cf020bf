"""The benchmark scales and the jaxgen configs of each section (same sizes as the PyTorch
references). Their own module, so that `profile.py` and `sections.py` need not import each
other."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jaxgen.config import ConfigDict


@dataclasses.dataclass(frozen=True)
class Scale:
    """How much work a run does; `full` is `make bench`, `tiny` the harness test."""

    reps: int = 7
    # The MLP VAE, conv AE and char LSTM rows: their medians decide targets that seven reps
    # left to the hour's noise (the MLP VAE's ratio read 1.38-1.52x on the same code).
    model_reps: int = 15
    warmup: int = 1
    num_train: int = 0  # cap on training examples (0 = all)
    peak_n: int = 2048
    steps: dict[str, int] = dataclasses.field(
        default_factory=lambda: {
            "vae": 150,
            "conv": 8,
            "lstm": 8,
            "gan2d": 312,
            "adding": 50,
        }
    )
    # Enough batches to see the resident memory level off (under jaxgen's malloc settings
    # the heap keeps its high-water mark and grows for the first ~12 batches, then stops).
    nll_batches: int = 16
    nll_k: int = 5000
    why_shrink: int = 1  # divides the batch sizes and lengths of the `why` profile
    compiles: int = 3  # compiles of each family's first chunk; the median is reported


SCALES = {
    "full": Scale(),
    # `make gpu-check`: repetitions long enough to time on a GPU, short enough for its lease.
    "gpu": Scale(
        reps=5,
        model_reps=5,
        peak_n=8192,
        steps={"vae": 1500, "conv": 200, "lstm": 100, "gan2d": 2000, "adding": 200},
        nll_batches=3,
        compiles=1,  # the GPU lease is short
    ),
    "tiny": Scale(
        reps=2,
        model_reps=2,
        warmup=0,
        num_train=512,
        peak_n=256,
        steps={"vae": 2, "conv": 1, "lstm": 1, "gan2d": 2, "adding": 2},
        nll_batches=1,
        nll_k=20,
        why_shrink=8,
        compiles=1,
    ),
}


# -- the jaxgen configs (same sizes as the PyTorch references) -------------------------------
def vae_config(scale: Scale) -> ConfigDict:
    from jaxgen.families import vae

    cfg = vae.config("mnist", latent_dim=20, hidden_sizes=(512, 256), activation="relu")
    cfg.train.batch_size = 128
    cfg.dataset.num_train = scale.num_train
    return cfg


def conv_config(scale: Scale) -> ConfigDict:
    from jaxgen.families import autoencoder

    cfg = autoencoder.config("mnist", arch="conv", conv_features=(32, 64), code_size=32, loss="mse")
    cfg.train.batch_size = 128
    cfg.dataset.num_train = scale.num_train
    return cfg


def lstm_config(scale: Scale) -> ConfigDict:
    from jaxgen.families import rnn

    cfg = rnn.config("lm", cell="lstm", hidden_size=256)
    cfg.dataset.seq_len = 100
    cfg.train.batch_size = 64
    cfg.dataset.num_train = scale.num_train
    if scale.num_train:
        cfg.dataset.max_chars = 200 * scale.num_train
    return cfg


def gan2d_config(scale: Scale) -> ConfigDict:
    """`experiments/gan_2d.py`'s model: 8-Gaussian ring, MLPs 3x128, latent 16, batch 256."""
    from jaxgen.families import gan

    cfg = gan.config(
        "ring8", latent_dim=16, noise="gaussian", g_hidden=(128,) * 3, d_hidden=(128,) * 3
    )
    cfg.dataset.num_points = 100_000 if not scale.num_train else scale.num_train * 2
    cfg.train.batch_size = 256 if not scale.num_train else 32
    cfg.optimizer.lr = cfg.d_optimizer.lr = 1e-3
    return cfg


def adding_config(scale: Scale) -> ConfigDict:
    """`experiments/rnn_adding.py`'s model: LSTM 64, T = 100, batch 64."""
    from jaxgen.families import rnn

    cfg = rnn.config("adding", cell="lstm", hidden_size=64)
    cfg.dataset.seq_len = 100 if not scale.num_train else 10
    cfg.dataset.num_points = 20_000 if not scale.num_train else scale.num_train * 2
    cfg.train.batch_size = 64 if not scale.num_train else 16
    cfg.optimizer.lr = 3e-3
    return cfg


def no_progress(cfg: ConfigDict) -> ConfigDict:
    cfg.train.progress = False
    return cfg


def family_configs(scale: Scale) -> dict[str, ConfigDict]:
    """One config per family and architecture at its experiments' size, for the compile
    section: each is compiled as the loop's first chunk. The tiny scale shrinks the data."""
    from jaxgen.config import load_module
    from jaxgen.families import autoencoder, seq2seq, seqvae

    # `make gan-mnist`'s own DCGAN (lazy R1, PacGAN2, G's moving average), not a copy of it.
    experiment = load_module(Path(__file__).parents[1] / "experiments" / "gan_mnist.py")
    dcgan = experiment.get_config().models.gan_conv
    configs = {
        "autoencoder mlp": autoencoder.config("mnist"),
        "autoencoder conv": conv_config(scale),
        "vae mlp": vae_config(scale),
        "gan mlp (2-D)": gan2d_config(scale),
        "gan conv (DCGAN, R1)": dcgan,
        "rnn lstm (char LM)": lstm_config(scale),
        "rnn lstm (adding)": adding_config(scale),
        "seq2seq": seq2seq.config("add"),
        "seqvae hierarchical (256)": seqvae.config("blocks", decoder="hierarchical"),
    }
    for c in configs.values():
        if scale.num_train and "num_train" in c.dataset:
            c.dataset.num_train = scale.num_train
        no_progress(c)
    return configs
