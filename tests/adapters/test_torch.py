"""starc.adapters.torch: tabulating learned torch reward models (imitation-style nets)."""

from __future__ import annotations

import fractions

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import starc  # noqa: E402
from starc.adapters.torch import load_weights, tabulate  # noqa: E402
from starc.exceptions import ValidationError  # noqa: E402


class ImitationStyleNet(torch.nn.Module):
    """The forward of imitation's BasicRewardNet with every input enabled."""

    def __init__(self, n_states, n_actions, hidden=16, dropout=0.0):
        super().__init__()
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(2 * n_states + n_actions + 1, hidden), torch.nn.Tanh(),
            torch.nn.Dropout(dropout), torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
            torch.nn.Linear(hidden, 1))

    def forward(self, state, action, next_state, done):
        x = torch.cat([torch.flatten(state, 1), torch.flatten(action, 1),
                       torch.flatten(next_state, 1), torch.reshape(done, [-1, 1])], dim=1)
        return self.mlp(x).squeeze(1)


@pytest.fixture
def mdp():
    return starc.random_mdp(6, 3, seed=0)


def one_at_a_time(net, n_states, n_actions, terminal, dtype):
    """Evaluate the net on each transition separately (batch of one), as a user would."""
    eye_s = torch.eye(n_states, dtype=dtype)
    eye_a = torch.eye(n_actions, dtype=dtype)
    out = np.empty((n_states, n_actions, n_states))
    with torch.no_grad():
        for s in range(n_states):
            for a in range(n_actions):
                for s2 in range(n_states):
                    done = torch.tensor([float(terminal[s2])], dtype=dtype)
                    out[s, a, s2] = net(eye_s[s:s + 1], eye_a[a:a + 1], eye_s[s2:s2 + 1],
                                        done).item()
    return out


@pytest.mark.parametrize("batch_size", [None, 1, 17, 18, 36, 10_000])
def test_tabulate_equals_one_transition_at_a_time(mdp, batch_size):
    torch.manual_seed(0)
    net = ImitationStyleNet(6, 3).double()
    terminal = np.array([0, 0, 1, 0, 0, 1], dtype=bool)
    out = tabulate(net, mdp, terminal=terminal, batch_size=batch_size)
    assert out.shape == (6, 3, 6) and out.dtype == np.float64
    ref = one_at_a_time(net, 6, 3, terminal, torch.float64)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_float32_models_agree_to_float32_precision(mdp):
    torch.manual_seed(1)
    net = ImitationStyleNet(6, 3)
    ref = one_at_a_time(net, 6, 3, np.zeros(6, bool), torch.float32)
    np.testing.assert_allclose(tabulate(net, mdp), ref, rtol=1e-5, atol=1e-6)


def test_tabulated_net_plugs_into_the_distances(mdp):
    torch.manual_seed(2)
    net = ImitationStyleNet(6, 3).double()
    r = tabulate(net, mdp)
    phi = np.random.default_rng(0).standard_normal(6)
    shaped = starc.potential_shaping(r, phi, mdp.gamma)
    assert starc.starc_distance(r, 2.0 * shaped, mdp) == pytest.approx(0.0, abs=1e-9)


def test_sas_signature_index_features_and_user_features():
    class Embedded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Parameter(torch.randn(4, 2, 4, dtype=torch.float64))

        def forward(self, s, a, s2):
            return self.table[s, a, s2]

    net = Embedded()
    out = tabulate(net, (4, 2), signature="sas", state_features="index",
                   action_features="index")
    np.testing.assert_array_equal(out, net.table.detach().numpy())

    coords = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    out = tabulate(lambda s, a, s2: (s2 - s).sum(1) + a[:, 1], (4, 2), signature="sas",
                   state_features=coords)
    assert out[0, 1, 3] == pytest.approx(3.0) and out[3, 0, 0] == pytest.approx(-2.0)


def test_eval_mode_during_tabulation_and_training_mode_restored(mdp):
    torch.manual_seed(3)
    net = ImitationStyleNet(6, 3, dropout=0.5).double()
    net.train()
    a = tabulate(net, mdp)
    b = tabulate(net, mdp, batch_size=5)
    np.testing.assert_allclose(a, b, atol=1e-12)  # dropout off: deterministic
    assert net.training
    params = [p.clone() for p in net.parameters()]
    assert all(torch.equal(p, q) for p, q in zip(params, net.parameters()))


def test_num_threads_is_restored(mdp):
    before = torch.get_num_threads()
    tabulate(ImitationStyleNet(6, 3), mdp, num_threads=1)
    assert torch.get_num_threads() == before


def test_wrong_output_shape_is_named(mdp):
    net = ImitationStyleNet(6, 3)

    def keepdim(*args):
        return net(*args)[:, None]

    with pytest.raises(ValidationError, match=r"model returned shape \(\d+, 1\).*squeeze"):
        tabulate(keepdim, mdp)
    with pytest.raises(ValidationError, match="model returned shape"):
        tabulate(lambda *args: net(*args).sum(), mdp)
    with pytest.raises(ValidationError, match="model must return a torch.Tensor"):
        tabulate(lambda *args: net(*args).detach().numpy(), mdp)


def test_nan_outputs_name_the_transition(mdp):
    def net(state, action, next_state, done):
        bad = (state.argmax(1) == 4) & (action.argmax(1) == 2) & (next_state.argmax(1) == 1)
        return torch.where(bad, torch.tensor(float("nan")), torch.zeros(len(state)))

    with pytest.raises(ValidationError, match=r"model returned 1 NaN .*\(s=4, a=2, s'=1\)"):
        tabulate(net, mdp)
    with pytest.raises(ValidationError, match=r"\(s=4, a=2, s'=1\)"):
        tabulate(net, mdp, batch_size=7)


def test_bad_options(mdp):
    net = ImitationStyleNet(6, 3)
    with pytest.raises(ValidationError, match="model must be"):
        tabulate("net", mdp)
    with pytest.raises(ValidationError, match="unknown signature"):
        tabulate(net, mdp, signature="imitation-v2")
    with pytest.raises(ValidationError, match=r"state_features must have shape \(6, ...\)"):
        tabulate(net, mdp, state_features=np.eye(5))
    with pytest.raises(ValidationError, match="device"):
        tabulate(net, mdp, device="not-a-device")
    with pytest.raises(ValidationError, match="num_threads"):
        tabulate(net, mdp, num_threads=0)
    with pytest.raises(ValidationError, match="mdp must be"):
        tabulate(net, [6, 3])


def test_load_weights_round_trip_and_refuses_pickles(tmp_path):
    torch.manual_seed(4)
    net = ImitationStyleNet(6, 3)
    path = tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    other = load_weights(ImitationStyleNet(6, 3), path)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), other.parameters()))

    bad = tmp_path / "pickle.pt"
    torch.save({"obj": fractions.Fraction(1, 3)}, bad)  # an arbitrary pickled global
    with pytest.raises(ValidationError, match="weights_only=True"):
        load_weights(ImitationStyleNet(6, 3), bad)
    with pytest.raises(ValidationError, match="does not exist"):
        load_weights(net, tmp_path / "missing.pt")
    with pytest.raises(ValidationError, match="does not fit model"):
        load_weights(ImitationStyleNet(5, 3), path)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(ValidationError, match="not a state_dict"):
        load_weights(net, tmp_path / "tensor.pt")
    with pytest.raises(ValidationError, match="model must be a torch.nn.Module"):
        load_weights(lambda x: x, path)


def test_tables_beyond_memory_are_refused_before_allocating(monkeypatch):
    import starc._validation as V

    net = ImitationStyleNet(3, 2)
    with pytest.raises(ValidationError, match="tabulate.*reward table.*bytes"):
        tabulate(net, (10**6, 10))
    # (200000, 2): 640 GB of table (and 320 GB of one-hot rows) on a 64 GiB machine
    monkeypatch.setattr(V, "available_memory_bytes", lambda: 64 * 2**30)
    with pytest.raises(ValidationError, match="tabulate.*reward table.*bytes"):
        tabulate(net, (200000, 2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_validation_error(mdp):
    net = ImitationStyleNet(6, 3)
    with pytest.raises(ValidationError, match="device 'cuda' is not available"):
        tabulate(net, mdp, device="cuda")
    with pytest.raises(ValidationError, match="device 'cuda:0' is not available"):
        load_weights(net, __file__, device="cuda:0")


def test_model_that_does_not_fit_the_mdp_raises_validation_error():
    """A model built for another MDP size fails inside torch; that is reported as a
    ValidationError naming the shapes, with torch's error chained."""

    class Net(torch.nn.Module):
        def __init__(self, width):
            super().__init__()
            self.linear = torch.nn.Linear(width, 1)

        def forward(self, s, a, s2, done):
            return self.linear(torch.cat([s, a, s2], dim=-1)).squeeze(-1)

    small = starc.random_mdp(3, 2, seed=0)
    big = starc.random_mdp(4, 2, seed=0)
    net = Net(3 + 2 + 3)
    assert tabulate(net, small).shape == small.shape
    with pytest.raises(ValidationError, match=r"model failed on a batch of inputs") as info:
        tabulate(net, big)
    assert isinstance(info.value.__cause__, RuntimeError)
