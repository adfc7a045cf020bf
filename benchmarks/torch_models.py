"""PyTorch reference implementations of the benchmarked jaxgen models.

Same layer sizes, activations, loss, batch size and optimizer (Adam, same lr/betas/eps) as the
jaxgen configs in `benchmarks/sections.py`, written the way a PyTorch user would: NCHW
convolutions, `torch.nn.LSTM`, `nn.PixelShuffle` for the sub-pixel upsampling jaxgen uses.
PyTorch is a benchmark-only dependency: nothing under `jaxgen/` imports this module.

`TorchRun` is the training loop: the data as one tensor in memory, a fresh permutation per
epoch, one indexed batch per step, forward, backward, (clip,) Adam step; eagerly or with the
loss function under `torch.compile`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class MLPVAE(nn.Module):
    """784-512-256-(2x20) ReLU encoder, 20-256-512-784 decoder, Bernoulli logits, ELBO."""

    def __init__(self, d: int = 784, hidden: tuple[int, ...] = (512, 256), latent: int = 20):
        super().__init__()
        enc, dims = [], (d, *hidden)
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            enc += [nn.Linear(a, b), nn.ReLU()]
        self.enc = nn.Sequential(*enc, nn.Linear(hidden[-1], 2 * latent))
        dec, dims = [], (latent, *reversed(hidden))
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            dec += [nn.Linear(a, b), nn.ReLU()]
        self.dec = nn.Sequential(*dec, nn.Linear(hidden[0], d))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        mean, log_var = self.enc(x).chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (log_var.exp() + mean.pow(2) - 1.0 - log_var).sum(-1)
        return (rec + kl).mean()


class ConvAE(nn.Module):
    """jaxgen's conv autoencoder: strided 4x4 convs down, sub-pixel (3x3 conv + pixel
    shuffle) up, MSE summed over pixels. Features (32, 64), code 32, 28x28x1."""

    def __init__(self, features: tuple[int, int] = (32, 64), code: int = 32):
        super().__init__()
        f1, f2 = features
        self.enc = nn.Sequential(
            nn.Conv2d(1, f1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(f1, f2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(7 * 7 * f2, code),
        )
        self.dec = nn.Sequential(
            nn.Linear(code, 7 * 7 * f2),
            nn.ReLU(),
            nn.Unflatten(1, (f2, 7, 7)),
            nn.Conv2d(f2, 4 * f2, 3, padding=1),
            nn.PixelShuffle(2),
            nn.ReLU(),
            nn.Conv2d(f2, 4 * f1, 3, padding=1),
            nn.PixelShuffle(2),
            nn.ReLU(),
            nn.Conv2d(f1, 1, 3, padding=1),
        )

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat = self.dec(self.enc(x))
        return (x_hat - x).pow(2).flatten(1).sum(-1).mean()


class CharLSTM(nn.Module):
    """One-hot characters -> `torch.nn.LSTM(96, 256)` -> linear readout, cross-entropy.

    One-hot input makes W_ih exactly jaxgen's W_x (jaxgen gathers its rows instead of
    multiplying by a one-hot matrix). torch's LSTM has two bias vectors where jaxgen has one.
    """

    def __init__(self, vocab: int = 96, hidden: int = 256):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(F.one_hot(x, self.vocab).float())
        logits = self.out(h)
        return F.cross_entropy(logits.reshape(-1, self.vocab), y.reshape(-1))


def device() -> str:
    """ "cuda" when JAX runs on a GPU and PyTorch sees one, else "cpu": same device both sides.

    On CUDA, TF32 is turned off for matmuls and convolutions, as the benchmark sets JAX's
    default matmul precision to float32: both sides then do fp32 arithmetic.
    """
    import jax

    if jax.default_backend() == "gpu" and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return "cuda"
    return "cpu"


def synchronize(dev: str) -> None:
    if dev == "cuda":
        torch.cuda.synchronize()


def param_count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


class TorchRun:
    """Trains `model.loss` on in-memory tensors; one repetition is `steps` train steps.

    Args:
      model: a module with a `loss(*batch)` method.
      data: tensors with a leading example axis (inputs, and targets if any).
      batch_size, steps: batch size; steps per repetition.
      lr, b1, b2, eps: Adam's hyperparameters (the jaxgen config's).
      clip: global gradient-norm clipping (0 = off), as `optimizer.grad_clip`.
      compile: run the loss (forward; AOTAutograd compiles the backward) under
        `torch.compile`.
      device: "cpu" or "cuda" (`device()` picks the one JAX runs on).
    """

    def __init__(
        self,
        model: nn.Module,
        data: list[np.ndarray],
        batch_size: int,
        steps: int,
        lr: float = 1e-3,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        clip: float = 0.0,
        compile: bool = False,
        seed: int = 0,
        device: str = "cpu",
    ):
        torch.manual_seed(seed)
        self.device = device
        self.model = model.to(device)
        self.data = [torch.from_numpy(np.ascontiguousarray(d)).to(device) for d in data]
        self.n = len(self.data[0])
        self.batch_size, self.steps, self.clip = batch_size, steps, clip
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(b1, b2), eps=eps)
        self.loss_fn: Callable = torch.compile(model.loss) if compile else model.loss
        self.perm = torch.randperm(self.n, device=device)
        self.pos = 0
        self.params = param_count(model)
        t0 = time.perf_counter()
        self.step()  # lazy initialization, and compilation under torch.compile
        self.first_step_seconds = time.perf_counter() - t0
        self.loss = float("nan")

    def step(self) -> torch.Tensor:
        bs = self.batch_size
        if self.pos + bs > self.n:
            self.perm, self.pos = torch.randperm(self.n, device=self.device), 0
        idx = self.perm[self.pos : self.pos + bs]
        self.pos += bs
        loss = self.loss_fn(*(d[idx] for d in self.data))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        return loss

    def run(self) -> None:
        loss = None
        for _ in range(self.steps):
            loss = self.step()
        # CPU: already computed. CUDA: waits for the queued steps, as jaxgen's one host sync
        # per chunk waits for its steps.
        self.loss = float(loss.detach())


__all__ = ["CharLSTM", "ConvAE", "MLPVAE", "TorchRun", "device", "param_count", "synchronize"]
