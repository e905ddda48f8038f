"""Core math against naive reference computations."""

import numpy as np
import pytest
import torch

from shiftdc.core import correction, diff_of_means, paper_corrections, project, scalar_projection


def naive_project(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    return (m @ s) / (s @ s) * s


def test_project_matches_naive_and_leaves_orthogonal_rest():
    g = torch.Generator().manual_seed(0)
    m, s = torch.randn(5, 16, generator=g), torch.randn(16, generator=g)
    p = project(m, s)
    for i in range(5):
        np.testing.assert_allclose(p[i].numpy(), naive_project(m[i].numpy(), s.numpy()), atol=1e-5)
    rest = m - p
    assert torch.allclose(rest @ s, torch.zeros(5), atol=1e-4)


def test_projection_of_known_shift_along_s():
    s = torch.tensor([3.0, 4.0])  # ||s|| = 5
    m = torch.tensor([[6.0, 8.0], [4.0, -3.0]])  # 2*s, and orthogonal to s
    assert scalar_projection(m, s).tolist() == pytest.approx([2.0, 0.0])
    assert torch.allclose(project(m, s), torch.tensor([[6.0, 8.0], [0.0, 0.0]]))


def test_zero_direction_gives_zero_projection():
    m = torch.randn(3, 8)
    assert torch.equal(project(m, torch.zeros(8)), torch.zeros(3, 8))


def test_diff_of_means_sign_and_value():
    safe = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]])  # [N=2, L=1, H=2]
    unsafe = torch.tensor([[[0.0, 0.0]]])
    assert torch.equal(diff_of_means(safe, unsafe), torch.tensor([[2.0, 3.0]]))
    with pytest.raises(ValueError, match="shape mismatch"):
        diff_of_means(safe, torch.zeros(1, 2, 2))


def test_paper_corrections_per_sample_per_layer():
    g = torch.Generator().manual_seed(1)
    x_vl, x_tt = torch.randn(3, 4, 8, generator=g), torch.randn(3, 4, 8, generator=g)
    s = torch.randn(4, 8, generator=g)
    corr = paper_corrections(x_vl, x_tt, s, alpha=0.5)
    for b in range(3):
        for layer in range(4):
            m = (x_vl[b, layer] - x_tt[b, layer]).numpy()
            ref = 0.5 * naive_project(m, s[layer].numpy())
            np.testing.assert_allclose(corr[b, layer].numpy(), ref, atol=1e-5)
    assert torch.equal(correction(x_vl, x_tt, s, alpha=0.0), torch.zeros_like(x_vl))
