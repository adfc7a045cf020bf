"""GAN evaluation: mode coverage on cases with known answers, the Frechet distance against
the SciPy reference, W1 against SciPy, sharpness measures that fall under blur."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import scipy.stats

from jaxgen.data import mixtures
from jaxgen.evaluation import fid, modes, sharpness


@pytest.mark.parametrize(
    "name, means, std",
    [("ring8", mixtures.ring_means(), 0.01), ("grid25", mixtures.grid_means(), 0.05)],
)
@pytest.mark.parametrize("num_hit", [0, 3, 8])
def test_mode_coverage_known_answer(name, means, std, num_hit):
    rng = np.random.default_rng(0)
    k = len(means)
    hit = rng.choice(k, size=num_hit, replace=False)
    # Inside 3 std of a chosen mode (2.9 std away), just outside 3 std of another (3.1 std),
    # and far from everything.
    direction = np.array([np.cos(0.3), np.sin(0.3)])
    inside = means[hit] + 2.9 * std * direction
    outside = means[np.setdiff1d(np.arange(k), hit)[:2]] + 3.1 * std * direction
    far = np.full((5, 2), 100.0)
    samples = np.concatenate([inside, outside, far])
    cov = modes.mode_coverage(samples, means, std)
    assert cov["modes_captured"] == num_hit
    np.testing.assert_allclose(cov["high_quality"], num_hit / len(samples))
    assert cov["counts"][hit].tolist() == [1] * num_hit


def test_mode_coverage_of_true_samples_matches_the_gaussian_tail():
    """Real mixture samples: every mode captured, HQ = P(chi_2 <= 3) = 1 - exp(-9/2)."""
    rng = np.random.default_rng(1)
    means = mixtures.grid_means()
    x, _ = mixtures.sample_mixture(rng, 20_000, means, 0.05, np.full(25, 1 / 25))
    cov = modes.mode_coverage(x, means, 0.05)
    assert cov["modes_captured"] == 25
    np.testing.assert_allclose(cov["high_quality"], 1 - np.exp(-4.5), atol=0.003)


def _scipy_fid(mu1, s1, mu2, s2):
    """The usual reference implementation (pytorch-fid): scipy.linalg.sqrtm of S1 S2."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("dim", [2, 16, 64])
def test_frechet_distance_matches_scipy(dim):
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(400, dim)) @ rng.normal(size=(dim, dim))
    b = 0.5 + rng.normal(size=(500, dim)) @ rng.normal(size=(dim, dim))
    mu1, s1 = fid.statistics(a)
    mu2, s2 = fid.statistics(b)
    np.testing.assert_allclose(
        fid.frechet_distance(mu1, s1, mu2, s2), _scipy_fid(mu1, s1, mu2, s2), rtol=1e-6
    )
    np.testing.assert_allclose(fid.frechet_distance_features(a, b), _scipy_fid(mu1, s1, mu2, s2))


def test_frechet_distance_special_cases():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(300, 8))
    assert fid.frechet_distance_features(f, f) < 1e-8
    shift = np.arange(8.0)
    np.testing.assert_allclose(fid.frechet_distance_features(f, f + shift), (shift**2).sum())
    # Isotropic 1-D Gaussians: d^2 = (m1 - m2)^2 + (s1 - s2)^2.
    np.testing.assert_allclose(fid.frechet_distance([0.0], [[4.0]], [1.0], [[1.0]]), 1 + 1)
    s = rng.normal(size=(5, 5))
    np.testing.assert_allclose(fid.sqrtm_psd(s @ s.T) @ fid.sqrtm_psd(s @ s.T), s @ s.T, atol=1e-9)


@pytest.mark.parametrize("n, m", [(500, 500), (300, 700)])
def test_wasserstein_1d_matches_scipy(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), 1.0 + 2.0 * rng.standard_t(3, size=m)
    np.testing.assert_allclose(
        fid.wasserstein_1d(a, b), scipy.stats.wasserstein_distance(a, b), rtol=1e-9
    )


@pytest.mark.parametrize("sigma", [0.7, 1.5])
def test_sharpness_falls_under_blur(sigma):
    rng = np.random.default_rng(0)
    images = (rng.random((8, 28, 28)) > 0.7).astype(np.float64)  # sharp, binary
    blurred = scipy.ndimage.gaussian_filter(images, sigma=(0, sigma, sigma))
    a, b = sharpness.sharpness(images), sharpness.sharpness(blurred)
    assert b["grad_mag"] < a["grad_mag"]
    assert b["lap_var"] < a["lap_var"]
    assert b["mid_gray"] > a["mid_gray"]
    # Per image too, and the channel axis is accepted.
    assert (
        sharpness.laplacian_variance(blurred[..., None]) < sharpness.laplacian_variance(images)
    ).all()


def test_coverage_per_seed_and_its_summary():
    """Seed 0's samples sit on both modes, seed 1's on one and far away: (2, 1.0), (1, 0.5)."""
    means, std = np.array([[0.0, 0.0], [10.0, 0.0]]), 0.1
    samples = np.array([[[0.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [5.0, 5.0]]])
    cov = modes.coverage_per_seed(samples, means, std)
    np.testing.assert_array_equal(cov, [[2, 1.0], [1, 0.5]])
    s = modes.coverage_summary(cov)
    assert (s["modes_mean"], s["modes_std"], s["hq_pct_mean"]) == (1.5, 0.5, 75.0)
    assert s["num_seeds"] == 2 and s["modes_seeds"] == [2.0, 1.0]


def test_image_judge_flags_a_collapsed_sample_set():
    """A set of one repeated image is far from the reference and all one class."""
    from jaxgen.evaluation import samples

    class Toy:  # features: the pixels; class: which half holds more ink
        features = staticmethod(lambda x: x.reshape(len(x), -1))
        predict = staticmethod(lambda x: (x[:, :, 4:].sum((1, 2)) > x[:, :, :4].sum((1, 2))) * 1)

    rng = np.random.default_rng(0)
    real = rng.uniform(size=(400, 8, 8))
    judge = samples.ImageJudge(Toy(), real, num_classes=2)
    fresh, collapsed = judge(rng.uniform(size=(400, 8, 8))), judge(np.repeat(real[:1], 400, 0))
    assert collapsed["max_class_share"] == 1.0 and fresh["max_class_share"] < 0.6
    assert collapsed["fid_vs_test"] > 10 * fresh["fid_vs_test"]
    np.testing.assert_allclose(judge.class_shares(real).sum(), 1.0)


def test_image_judge_counts_the_images_its_classifier_is_unsure_of():
    from jaxgen.evaluation import samples

    class Toy:  # confidence: the mean pixel; class: 0
        features = staticmethod(lambda x: x.reshape(len(x), -1))
        predict = staticmethod(lambda x: np.zeros(len(x), int))
        probs = staticmethod(lambda x: np.stack([x.mean((1, 2)), 1 - x.mean((1, 2))], -1))

    images = np.stack([np.full((4, 4), v) for v in (0.95, 0.99, 0.5, 0.8)])
    row = samples.ImageJudge(Toy(), np.random.default_rng(0).uniform(size=(32, 4, 4)))(images)
    assert row["unsure_share"] == 0.5  # 0.5 and 0.8 (top probability 0.5 and 0.8) of four
    assert row["max_confident_class_share"] == 1.0  # the sure two are both class 0


def test_confident_class_shares_leave_out_the_ambiguous_images():
    """Class 1 leads all samples (3 of 5) only through two unsure ones: among the sure ones
    class 0 leads, 2 of 3."""
    from jaxgen.evaluation import samples

    class Toy:  # the mean pixel is the probability of class 0
        features = staticmethod(lambda x: x.reshape(len(x), -1))
        probs = staticmethod(lambda x: np.stack([x.mean((1, 2)), 1 - x.mean((1, 2))], -1))
        predict = staticmethod(lambda x: Toy.probs(x).argmax(-1))

    images = np.stack([np.full((4, 4), v) for v in (0.95, 0.96, 0.02, 0.4, 0.3)])
    reference = np.random.default_rng(0).uniform(size=(32, 4, 4))
    judge = samples.ImageJudge(Toy(), reference, num_classes=2)
    np.testing.assert_allclose(judge.class_shares(images), [0.4, 0.6])
    np.testing.assert_allclose(judge.confident_class_shares(images), [2 / 3, 1 / 3])
    assert judge(images)["max_confident_class_share"] == pytest.approx(2 / 3)


def test_sample_quality_script_judges_a_run_with_the_cached_classifier(tmp_path):
    """`scripts/sample_quality.py` on a tiny MNIST GAN: one JSON line whose shares sum to
    1; without a classifier, one line of error and a non-zero exit."""
    import json
    import subprocess
    import sys

    import jax

    from jaxgen import data as data_lib
    from jaxgen.evaluation import classifier as classifier_lib
    from jaxgen.families import gan
    from jaxgen.train import train
    from tests.conftest import ROOT

    cfg = gan.config("mnist", arch="mlp", g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    cfg.dataset.num_train, cfg.dataset.num_test = 256, 128
    cfg.train.num_epochs, cfg.train.progress = 1, False
    splits = data_lib.load(cfg.dataset)
    train(cfg, tmp_path / "exp" / "gan_mlp", splits=splits)
    script = [sys.executable, str(ROOT / "scripts" / "sample_quality.py")]
    args = ["--workdir", str(tmp_path / "exp" / "gan_mlp"), "--num", "300"]
    missing = subprocess.run(script + args, capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode != 0 and "no trained classifier" in missing.stderr
    assert "Traceback" not in missing.stderr
    clf = classifier_lib.train_classifier(splits, jax.random.PRNGKey(0), num_epochs=1)
    classifier_lib.save(clf, tmp_path / "exp" / "classifier")
    # Two noise scales in one call: 0.5 z (the truncation trick) gives other images, judged
    # the same way, with the same key.
    out = subprocess.run(
        script + args + ["--z-scale", "1,0.5"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    row, half = map(json.loads, out.stdout.strip().splitlines()[-2:])
    assert (row["z_scale"], half["z_scale"]) == (1.0, 0.5)
    for r in (row, half):
        assert r["num_images"] == 300 and r["step"] > 0
        assert sum(r["class_shares"]) == pytest.approx(1.0, abs=1e-3)
        assert r["max_class_share"] == pytest.approx(max(r["class_shares"]), abs=1e-4)
        assert 0.0 <= r["unsure_share"] <= 1.0
        if r["unsure_share"] < 1.0:  # the sure ones' shares are shares too
            assert sum(r["confident_class_shares"]) == pytest.approx(1.0, abs=1e-3)
    assert half["fid_vs_test"] != row["fid_vs_test"]
