"""The vanishing gradient itself: ||dL/dh_t|| against t, vanilla RNN against LSTM.

On the adding problem the loss sits at the sequence's end; its gradient with respect to the
hidden state h_t (through all later steps) is measured by adding a zero offset to h_t inside
the scan and differentiating with respect to it. Plotted at initialization and after training,
averaged over a batch of test sequences.

Run:
  python -m jaxgen.main --config experiments/rnn_gradients.py --workdir runs/rnn_gradients
  python -m jaxgen.main --config experiments/rnn_gradients.py --workdir runs/rnn_gradients \
    --config.trained_runs=runs/rnn_adding   # measure make rnn-adding's trained T=100 cells
  (make rnn-gradients does the latter; cells not trained there are trained here)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import jaxgen
from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.families import rnn as rnn_family
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.seeds import seed_slice
from jaxgen.train.trainer import Trainer


def get_config(arg: str | None = None) -> ConfigDict:
    c = ConfigDict()
    c.cells = ("rnn", "lstm")
    c.base = rnn_family.config("adding", hidden_size=64)
    c.base.dataset.seq_len = 100
    # The settings of `make rnn-adding` (experiments/rnn_adding.py), under which the LSTM
    # solves T = 100 and the RNN does not.
    c.base.dataset.num_points = 16_000
    c.base.dataset.curriculum_min_len = 10
    c.base.train.batch_size = 64
    c.base.train.num_epochs = 12
    c.base.train.steps_per_scan = 0
    c.base.optimizer.lr = 1e-2
    c.base.optimizer.schedule = "cosine"
    c.num_sequences = 256
    # A folder with trained `{cell}_T{seq_len}` runs of the same config (the lag sweep's) to
    # measure instead of training again; "" = train here.
    c.trained_runs = ""
    if arg == "tiny":
        c.base.dataset.seq_len = 10
        c.base.dataset.num_points = 512
        c.base.train.num_epochs = 1
    c.base.train.progress = arg != "tiny"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    # No validation split: synthetic data, and each evaluation is one more compile.
    splits = dataclasses.replace(data_lib.load(config.base.dataset), val=None)
    t_min = int(config.base.dataset.seq_len)
    test_split = splits.split("test")
    batch = {k: jnp.asarray(v[: config.num_sequences]) for k, v in test_split.items()}
    series, rows = {}, []
    for cell in config.cells:
        cfg = rnn_family.variant(config.base, **{"model.cell": cell})
        family = rnn_family.make_family(cfg)
        init_state = seed_slice(Trainer(cfg, family, splits).init(), 0)
        reuse = Path(config.trained_runs or "/nonexistent") / f"{cell}_T{t_min}"
        if (reuse / "summary.json").exists():
            trained = jaxgen.load_run(reuse, splits=splits)
            trained_state, test = (
                trained.state,
                json.loads((reuse / "summary.json").read_text())["test"],
            )
        else:
            result = train(cfg, workdir / cell, splits=splits)
            trained_state, test = result.seed_state(0), result.summary["test"]
        for when, state in (("init", init_state), ("trained", trained_state)):
            # Every sequence is valid up to T; the loss sits at each one's last step.
            norms = np.asarray(family.hidden_grad_norms(state, batch))[:t_min]
            series[f"{cell}, {when}"] = (np.arange(t_min), norms)
            rows.append(
                {
                    "cell": cell,
                    "when": when,
                    "norm_t0": float(norms[0]),
                    "norm_last": float(norms[-1]),
                    "ratio_t0_over_last": float(norms[0] / norms[-1]),
                }
            )
        rows[-1]["test_wrong"] = round(test["wrong"] * len(test_split["x"]))
    plotting.curves(
        series,
        workdir / "figures" / "grad_norm_vs_t.png",
        xlabel="time step t (loss at the sequence end)",
        ylabel="mean ||dL/dh_t||",
        logy=True,
        title=f"Adding problem, T={t_min}: how far back the error signal reaches",
    )
    np.savez(workdir / "grad_norms.npz", **{k: v[1] for k, v in series.items()})
    trained = [r for r in rows if r["when"] == "trained"]
    result = result_row(
        f"Vanishing gradient, adding problem T={t_min}, after training",
        "||dL/dh_0|| / ||dL/dh_T|| (how much error signal reaches the first step): "
        + " / ".join(r["cell"] for r in trained),
        " / ".join(f"{r['ratio_t0_over_last']:.2g}" for r in trained),
        "make rnn-gradients",
    )
    intro = [
        "ratio_t0_over_last: the gradient at the first step relative to the last one;"
        " tiny means the first inputs barely receive an error signal."
    ]
    title = "The vanishing gradient: ||dL/dh_t|| against t"
    figures = ["figures/grad_norm_vs_t.png"]
    return experiment.finish(workdir, title, rows, [result], intro=intro, figures=figures)
