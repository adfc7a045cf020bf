"""The VAE on dynamically binarized MNIST, and Burda et al. (2015)'s test NLL.

Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders" (2015), VAE with one
stochastic layer: 784-200-200-50 tanh encoder, 50-200-200-784 tanh Bernoulli decoder, Adam,
batch 20, 3^i epochs at lr 1e-3 * 10^(-i/7) for i = 0..7 (3280 epochs), test NLL 86.76 nats
estimated with k = 5000 importance samples.

Run:
  python -m jaxgen.main --config experiments/vae_mnist.py:burda --workdir runs/vae_mnist
      (the full schedule; make vae. 3280 epochs, 8.2 M steps of batch 20: 2.2 h on one core
      of the 2-core machine, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
      intra_op_parallelism_threads=1" taskset -c 0 make vae, ~1,040 steps/s, while the other
      core ran other work; both cores, alone: 1,200-1,400 steps/s over the first 45 s; jax
      0.10.2). Machines vary: on 2026-12-04 the same command ran 430-520 steps/s over its
      first 100 s, on jax 0.12 and 0.10.2 alike, with the other core busy or idle, where
      one core's 1024^2 matmul gave 70 GFLOP/s against 108 the day before: about 5 h. On
      2026-12-06, jax 0.12, one pinned core: 690-785 steps/s, about 3 h; resumable, and its
      README row gives training CPU minutes over every session. A second core does not help
      at batch 20: multi-threaded XLA ran ~780 steps/s, and `--config.data_parallel=true`
      over 2 host devices 345, its all-reduce costing more than half a batch saves.)
  python -m jaxgen.main --config experiments/vae_mnist.py:budget --workdir runs/vae_budget
      (make vae-budget: the same network on half an hour of one core: batch 100, warm-up to
      lr 3e-3 and cosine decay, 640 epochs; 87.84 nats with jax 0.12, the same to the
      printed digits when rerun on 2026-12-06: 23.8 CPU min of training (one pinned
      core) and 16 min for the k=5000 NLL evaluation)
  python -m jaxgen.main --config experiments/vae_mnist.py:iwae --workdir runs/vae_iwae
      (make vae-iwae: Burda's IWAE, k=5, on the same half hour, 170 epochs)
  python -m jaxgen.main --config experiments/vae_mnist.py:quick --workdir runs/vae_quick
      (make demo's VAE: ~1 minute, samples and an interpolation strip)
  Variants on a short schedule: :conv (conv encoder/decoder; make vae-conv), :gaussian (the
  lecture's C*||x-x_hat||^2 loss; make vae-gaussian), :2d (2-d latent: decoded manifold,
  codes coloured by label; make vae-2d), :tiny (tests). Any `--config.model.*` override
  applies, e.g. `--config.nll.k=1000`.
  Each run's figures/elbo_vs_time.png draws its validation -ELBO against training CPU
  minutes, and its test NLL as a point at its last minute, beside the other finished VAE
  runs found next to it (vae_budget, vae_iwae, vae_mnist). The README row gives training
  in CPU minutes over every session of the run, so a resumed or paused run reads true.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np

from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation import curves, likelihood
from jaxgen.families import vae
from jaxgen.results import row as result_row
from jaxgen.sampling import named_key
from jaxgen.train import train

SIBLINGS = ("vae_budget", "vae_iwae", "vae_mnist")  # the runs drawn beside this one

PUBLISHED_NLL = 86.76  # Burda et al. 2015, Table 1, VAE, 1 stochastic layer, k=1 training
PUBLISHED_IWAE_NLL = 85.54  # the same table: IWAE, 1 stochastic layer, k=5 training
BURDA_STAGES = tuple(3**i for i in range(8))  # epochs per learning-rate stage
BURDA_EPOCHS = sum(BURDA_STAGES)  # 3280


def burda_lr_schedule(cfg: ConfigDict, stage_epochs, steps_per_epoch: int) -> None:
    """Piecewise-constant lr 1e-3 * 10^(-i/7) from the start of stage i (boundaries in steps)."""
    cum = np.cumsum(stage_epochs)[:-1]
    cfg.optimizer.schedule = "piecewise"
    cfg.optimizer.lr = 1e-3
    cfg.optimizer.boundaries = tuple(int(e * steps_per_epoch) for e in cum)
    cfg.optimizer.scales = tuple(float(10 ** (-i / 7)) for i in range(1, len(stage_epochs)))
    cfg.train.num_epochs = int(sum(stage_epochs))


def get_config(arg: str | None = None) -> ConfigDict:
    arg = arg or "budget"
    known = ("burda", "budget", "quick", "tiny", "conv", "gaussian", "2d", "iwae")
    if arg not in known:
        raise ValueError(f"unknown arg {arg!r}; one of {', '.join(known)}")
    c = vae.config(
        "mnist",
        latent_dim=50,
        hidden_sizes=(200, 200),
        activation="tanh",
        likelihood="bernoulli",
        report_nll_k=0,  # The experiment runs its own, larger NLL evaluation.
    )
    c.dataset.binarize = "dynamic"
    c.train.batch_size = 20
    c.train.eval_batch_size = 1000
    c.experiment = ConfigDict(
        {
            "name": arg,
            "stage_epochs": BURDA_STAGES,
            "published_nll": PUBLISHED_NLL,
            "published_model": "VAE",
        }
    )
    c.nll = ConfigDict({"k": 5000, "num": 0, "batch_size": 100, "chunk": 250})
    spe = 50_000 // 20
    if arg == "burda":
        c.train.eval_every_epochs = 10
        # An epoch is ~3 s here; a save every epoch costs more than it protects. A stop
        # request (Ctrl-C, SIGTERM) still saves before exiting.
        c.train.checkpoint_every_steps = 10 * spe
    elif arg == "budget":
        # Half an hour on one core. Burda's stages compressed 5x (650 epochs at batch 20)
        # took 55.5 min with jax 0.12 (~490 steps/s) for 88.47 nats. Batch 100 runs ~2x
        # more examples per second here (~205 steps/s), and a 1-epoch warm-up to lr 3e-3
        # with cosine decay to 0 beat both lr 2e-3 and Burda's stages at equal time in
        # 5-minute pilots (val -ELBO 94.65 after 125 epochs; batch 20 at 1e-3: 95.25 after 85).
        # Measured: 87.84 +- 0.23 nats (k=5000, 10,000 test images) after 1,705 s.
        c.train.batch_size = 100
        spe = 50_000 // 100
        c.train.num_epochs = 640
        c.train.eval_every_epochs = 40
        c.train.checkpoint_every_steps = 20 * spe
        c.optimizer.update(schedule="warmup_cosine", lr=3e-3, warmup_steps=spe)
        return c
    elif arg == "iwae":
        # IWAE k=5 (Burda's objective) on the half hour. 5 samples through the decoder make
        # the step compute-bound: an epoch takes ~10 s at batch 20 and ~9.3 s at batch 100,
        # so batch 20 (5x the updates per epoch) is kept; warm-up and cosine decay from
        # Burda's lr 1e-3, 170 epochs. (Batch 100 at lr 3e-3, the VAE budget's recipe, was
        # at val -ELBO 105.9 after 60 epochs, far behind.)
        c.model.objective = "iwae"
        c.model.k = 5
        c.experiment.published_nll = PUBLISHED_IWAE_NLL
        c.experiment.published_model = "IWAE k=5"
        c.train.num_epochs = 170
        c.train.eval_every_epochs = 10
        c.train.checkpoint_every_steps = 10 * spe
        c.optimizer.update(schedule="warmup_cosine", lr=1e-3, warmup_steps=spe)
        return c
    elif arg in ("quick", "tiny"):
        quick = arg == "quick"
        c.model.latent_dim = 16
        c.model.hidden_sizes = (256,) if quick else (64,)
        c.train.batch_size = 100
        c.dataset.num_train = 20_000 if quick else 2000
        c.dataset.num_test = 1000 if quick else 200
        c.experiment.stage_epochs = (3, 2) if quick else (2, 1)
        c.nll.k = 500 if quick else 20
        c.nll.chunk = 100 if quick else 20
        spe = c.dataset.num_train // c.train.batch_size
        c.train.progress = quick
    else:  # Smaller variants of the budget run showing the other options.
        c.train.batch_size = 100
        spe = 50_000 // 100
        c.experiment.stage_epochs = (3, 3, 2, 2)
        c.nll.k = 1000
        if arg == "conv":
            c.model.arch = "conv"
            c.model.activation = "relu"
            c.model.latent_dim = 32
        elif arg == "gaussian":
            c.model.likelihood = "gaussian"
            c.model.C = 10.0
            c.dataset.binarize = "none"
            c.model.beta_schedule = "linear"
            c.model.beta_warmup_steps = 2 * spe
        elif arg == "2d":
            c.model.latent_dim = 2
            c.model.hidden_sizes = (512, 256)
            c.model.activation = "relu"
    burda_lr_schedule(c, c.experiment.stage_epochs, spe)
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    t0 = time.time()
    result = train(config, workdir / "vae")
    train_wall = time.time() - t0
    fam, state, splits = result.family, result.seed_state(0), result.splits
    s = result.summary
    x_test = splits.split("test")["x"]
    num = config.nll.num or len(x_test)
    key = named_key(jax.random.PRNGKey(config.seed), "nll")
    print(f"jaxgen: test NLL with k={config.nll.k} on {num} test images ...", flush=True)
    nll = likelihood.test_nll(
        fam.log_weights_fn(state),
        x_test[:num],
        key,
        k=config.nll.k,
        batch_size=config.nll.batch_size,
        chunk=min(config.nll.chunk, config.nll.k),
        progress=config.train.progress,
    )
    au = fam.active_units(state, x_test)
    epochs = config.train.num_epochs
    steps_per_s = s.get("steps_per_second") or 0.0
    spe = len(splits.train["x"]) // config.train.batch_size
    epoch_seconds = spe / steps_per_s if steps_per_s else float("nan")
    summary = {
        "config": config.experiment.name,
        "epochs": epochs,
        "batch_size": config.train.batch_size,
        "train_seconds": s.get("train_seconds_this_session"),
        "train_wall_seconds": train_wall,  # this session's call of train, compile included
        # Over every session of a resumed run; CPU time is what a paused run does not inflate.
        "train_seconds_all_sessions": s.get("train_seconds"),
        "train_cpu_seconds": s.get("train_cpu_seconds"),
        "epoch_seconds": epoch_seconds,
        # At Burda's batch of 20 the full schedule is 3280 epochs of the same cost.
        "estimated_full_schedule_hours": BURDA_EPOCHS * epoch_seconds / 3600
        if config.train.batch_size == 20
        else None,
        "test_neg_elbo": s["test"]["neg_elbo"],
        "test_nll": nll["nll"],
        "test_nll_sem": nll["nll_sem"],
        "nll_k": nll["k"],
        "nll_num_examples": nll["num_examples"],
        "nll_seconds": nll["seconds"],
        "nll_peak_rss_gib": nll["peak_rss_gib"],
        "active_units": au["active_units"],
        "latent_dim": config.model.latent_dim,
        "published_nll": config.experiment.published_nll,
    }
    # The README's row (`make results`): published anchor, ours, the command.
    target = {"burda": "vae"}.get(config.experiment.name, f"vae-{config.experiment.name}")
    sizes = "-".join(map(str, (784, *config.model.hidden_sizes, config.model.latent_dim)))
    results = [
        result_row(
            f"VAE {config.model.arch} {sizes}, {config.dataset.binarize} MNIST "
            f"({config.experiment.name})",
            f"test NLL, nats (k={nll['k']}, {nll['num_examples']} images)",
            f"{nll['nll']:.2f} ({epochs} epochs, {_cpu_minutes(s, train_wall)})",
            f"make {target}",
            published=f"{config.experiment.published_nll} (Burda et al. 2015, "
            f"{config.experiment.published_model}, {BURDA_EPOCHS} epochs)",
        )
    ]
    rows = [
        {
            "run": f"Burda et al. 2015 ({config.experiment.published_model}, k=5000)",
            "test NLL": config.experiment.published_nll,
            "epochs": BURDA_EPOCHS,
        },
        {
            "run": f"ours ({config.experiment.name}, k={nll['k']}, n={nll['num_examples']})",
            "test NLL": nll["nll"],
            "epochs": epochs,
        },
    ]
    (workdir / "figures").mkdir(exist_ok=True)
    drawn = {workdir: nll["nll"]}  # this run's summary is not written yet
    drawn.update({r: None for r in (workdir.parent / n for n in SIBLINGS) if r != workdir})
    _loss_vs_time(drawn, workdir / "figures")
    figures = ["figures/elbo_vs_time.png"] + [
        f"vae/figures/{f}.png"
        for f in ("samples", "reconstructions", "interpolation", "manifold", "codes")
        if (workdir / "vae" / "figures" / f"{f}.png").exists()
    ]
    out = experiment.finish(
        workdir,
        f"VAE on dynamically binarized MNIST ({config.experiment.name})",
        rows,
        results,
        notes=_notes(config, summary),
        figures=figures,
        extra=summary,
    )
    print(
        f"-ELBO {summary['test_neg_elbo']:.2f}, NLL(k={nll['k']}) {nll['nll']:.2f} "
        f"+- {nll['nll_sem']:.2f}, active units {au['active_units']}/{config.model.latent_dim}, "
        f"train {summary['train_seconds']:.0f} s ({epoch_seconds:.1f} s/epoch), NLL eval "
        f"{nll['seconds']:.0f} s, peak RSS {nll['peak_rss_gib']:.2f} GiB"
    )
    return out


def _cpu_minutes(s: dict, wall: float) -> str:
    """Training time for the README row: CPU minutes over every session of the run (a
    resumed or paused run counts only the time it trained), else this session's wall clock."""
    cpu = s.get("train_cpu_seconds")
    return f"{cpu / 60:.0f} CPU min" if cpu else f"{wall / 60:.0f} min"


def _notes(config: ConfigDict, s: dict) -> list[str]:
    full = s["estimated_full_schedule_hours"]
    return [
        f"- test -ELBO: {s['test_neg_elbo']:.2f} nats; importance-sampled NLL (k={s['nll_k']}, "
        f"{s['nll_num_examples']} test images): {s['test_nll']:.2f} +- {s['test_nll_sem']:.2f}\n"
        f"- active units (Var_x E[z|x] > {config.model.active_threshold}): "
        f"{s['active_units']} of {s['latent_dim']}\n"
        f"- training: {s['epochs']} epochs in {s['train_seconds']:.0f} s this session"
        + (f", {s['train_cpu_seconds']:.0f} CPU s over all" if s.get("train_cpu_seconds") else "")
        + f" ({s['epoch_seconds']:.1f} s/epoch at batch {s['batch_size']})"
        + (f"; Burda's full 3280-epoch schedule at that speed: ~{full:.1f} h" if full else "")
        + f"\n- NLL evaluation: {s['nll_seconds']:.0f} s, process peak RSS "
        f"{s['nll_peak_rss_gib']:.2f} GiB"
    ]


def _loss_vs_time(runs: dict[Path, float | None], figs: Path) -> Path:
    """Validation loss (-ELBO, or -IWAE bound for IWAE) against training CPU minutes for each
    run, and its test NLL (k=5000) as a point at its last minute.

    `runs` maps a run folder to its test NLL, or to None to read it from the folder's
    `summary.json` (a sibling run; one not yet finished is left out).
    """
    series, points, seen, top = {}, {}, set(), 110.0  # the first ~140 nats flatten the rest
    for run, nll in runs.items():
        summary = run / "summary.json"
        curve = curves.metric_curve(run / "vae", "loss", split="val")
        if nll is None and summary.is_file():
            nll = json.loads(summary.read_text()).get("test_nll")
        if run.resolve() in seen or nll is None or curve is None:
            continue
        seen.add(run.resolve())
        series[run.name] = (curve.seconds / 60, curve.values)
        points[f"{run.name}: test NLL {nll:.2f}"] = (curve.seconds[-1] / 60, nll)
        top = max(top, curve.values[-1] + 10)
    return plotting.curves(
        series,
        figs / "elbo_vs_time.png",
        "training time, CPU minutes (one core)",
        "nats: validation loss (lines), test NLL (points)",
        logx=True,
        hlines={f"Burda VAE {PUBLISHED_NLL}": PUBLISHED_NLL},
        ylim=(None, top),
        points=points,
    )
