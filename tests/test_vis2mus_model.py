"""PolyDis (issue 14): the published sizes, the feature map Vis2Mus edits, the parallel
teacher-forced path equal to the loop, and a loss that trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from livestyle.vis2mus.model import PolyDis, PolyDisConfig  # noqa: E402

DATA = Path(__file__).parent / "data" / "vis2mus"


def batch():
    samples = [np.load(DATA / f"sample{i}.npz") for i in (1, 2)]
    x = torch.tensor(np.stack([s["ptree"] for s in samples]))
    c = torch.tensor(np.stack([s["c"] for s in samples]), dtype=torch.float32)
    pr_mat = torch.tensor(np.stack([s["pr_mat"] for s in samples]), dtype=torch.float32)
    return x, c, pr_mat


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_full_size_is_the_published_model():
    model = PolyDis()
    assert (count(model.chd_encoder), count(model.txt_encoder), count(model.pnotree_decoder),
            count(model.chd_decoder)) == (7_574_016, 9_473_442, 8_802_569, 1_460_052)
    assert count(model) == 27_310_079


def test_feature_map_and_swap_shapes():
    torch.manual_seed(0)
    model = PolyDis(PolyDisConfig.small()).eval()
    x, c, pr_mat = batch()
    fmap = model.txt_encoder.feature_map(pr_mat)
    assert fmap.shape == (2, 10, 8, 29) and (fmap >= 0).all()
    q = model.txt_encoder.from_feature_map(fmap)
    assert torch.allclose(q.mean, model.txt_encoder(pr_mat).mean)
    with torch.no_grad():
        tree = model.swap(pr_mat, c.flip(0))
    assert tree.shape == (2, 32, 15, 6) and tree.dtype == torch.long


def test_parallel_teacher_forcing_equals_the_loop():
    torch.manual_seed(0)
    model = PolyDis(PolyDisConfig.small())
    x, c, pr_mat = batch()
    z = torch.randn(2, 128)
    with torch.no_grad():
        loop = model.pnotree_decoder(z, x, 1.0, 1.0, parallel=False)
        fast = model.pnotree_decoder(z, x, 1.0, 1.0)
    for a, b in zip(loop, fast):
        assert torch.allclose(a, b, atol=1e-5), float((a - b).abs().max())


def test_loss_is_reproducible_and_trains():
    torch.manual_seed(0)
    model = PolyDis(PolyDisConfig.small())
    x, c, pr_mat = batch()
    first = model.loss(x, c, pr_mat, tfr1=0.5, tfr2=0.5, tfr3=0.5, generator=torch.Generator().manual_seed(1))
    again = model.loss(x, c, pr_mat, tfr1=0.5, tfr2=0.5, tfr3=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first["total"], again["total"])   # coins and noise come from the generator
    assert set(first) == {"total", "recon", "pitch", "dur", "kl", "kl_chd", "kl_txt", "chord", "root", "chroma", "bass"}
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(25):
        loss = model.loss(x, c, pr_mat, beta=0.0, tfr1=1.0, tfr2=1.0, tfr3=1.0, generator=gen)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        losses.append(float(loss["recon"].detach()))
    assert losses[-1] < 0.5 * losses[0], losses
