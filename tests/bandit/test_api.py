"""The starc.bandit namespace: lazy import from starc, explicit __all__."""

from __future__ import annotations

import json
import subprocess
import sys

import starc


def test_bandit_is_a_lazy_subpackage(tmp_path):
    code = ("import json, sys; import starc; before = 'starc.bandit' in sys.modules; "
            "starc.bandit.distance; print(json.dumps([before, 'starc.bandit' in sys.modules, "
            "'pandas' in sys.modules, 'scipy.optimize' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    before, after, pandas, _ = json.loads(out.stdout)
    assert (before, after, pandas) == (False, True, False)
    assert "bandit" in dir(starc)


def test_all_is_explicit_and_importable():
    import starc.bandit as b

    assert len(b.__all__) == len(set(b.__all__))
    for name in b.__all__:
        assert getattr(b, name) is not None, name
