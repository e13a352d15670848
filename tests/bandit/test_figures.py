"""paper_figures/bandit_overoptimization.py: runs in --quick mode and shows what its title
claims (checked on the quick study itself)."""

from __future__ import annotations

import numpy as np
import pytest

from figure_scripts import FIGURES, load_script, run_quick

SCRIPT = FIGURES / "bandit_overoptimization.py"


@pytest.fixture(scope="module")
def module():
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def quick(module):
    return module.compute(quick=True, seed=0)


def test_quick_run_writes_png(tmp_path, capsys):
    run_quick(SCRIPT, tmp_path, capsys, max_seconds=120)


def test_title_claim_rank_metrics_predict_damage_best(module, quick):
    """Title, first half: per-prompt rank metrics (Spearman, pairwise accuracy) predict the
    damage best -- for every damage measure, by a clear margin over every STARC distance and
    the pooled Pearson correlation."""
    assert "Per-prompt rank metrics do best" in module.__doc__.splitlines()[0]
    corr = quick["correlation"]
    others = [k for k in module.METRICS if k not in ("1 - Spearman", "1 - pairwise accuracy")]
    for damage in module.DAMAGES:
        for rank_metric in ("1 - Spearman", "1 - pairwise accuracy"):
            assert corr[(rank_metric, damage)] > 0.9, (rank_metric, damage)
            for other in others:
                assert corr[(rank_metric, damage)] > corr[(other, damage)] + 0.1, \
                    (rank_metric, other, damage)


def test_title_claim_pooled_pearson_fooled_by_offsets(module, quick):
    """Title, second half: a proxy equal to the gold reward up to per-prompt offsets does no
    damage at all, every per-prompt metric and STARC distance says so (0), and the pooled
    Pearson correlation calls it far from gold (about as far as the worst noisy proxies)."""
    assert "pooled Pearson is fooled by per-prompt offsets" in module.__doc__.splitlines()[0]
    i = quick["names"].index("offset")
    for damage in module.DAMAGES:
        assert quick["damage"][damage][i] == pytest.approx(0.0, abs=1e-12)
    for metric in module.METRICS:
        value = quick["metrics"][metric][i]
        if metric == "1 - pooled Pearson":
            assert value > 0.5
            noise = [j for j, f in enumerate(quick["families"]) if f == "noise"]
            assert value > np.median(quick["metrics"][metric][noise])
        else:
            assert value == pytest.approx(0.0, abs=1e-9), metric


def test_damage_grows_with_noise(quick):
    """Sanity of the study: for the noise family, every damage grows with the noise scale."""
    noise = [j for j, f in enumerate(quick["families"]) if f == "noise"]
    for damage in quick["damage"].values():
        assert np.all(np.diff(damage[noise]) > 0)
