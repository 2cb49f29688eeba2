"""Token recycling's clustering on hand-placed points: DPC-kNN (centres, their order, members,
determinism, ties) and the merge of each cluster (sum / (count + 1e-6))."""

from __future__ import annotations

import pytest
import torch

from llava.sparse.clustering import Clusters, dpc_knn, merge_clusters

# --------------------------------------------------------------------------- DPC-kNN


def three_groups() -> tuple[torch.Tensor, dict[str, int]]:
    """Three right triangles, legs 1, 2 and 3, far apart; shuffled so that index order is not
    centre order. With k = 3 (self + 2 neighbours, all in the own group) and D = dist/sqrt(2):
    rho(corner) = exp(-s^2/3), rho(other) = exp(-s^2/2) for leg s. The densest point (corner A)
    gets delta = the largest distance; corner B's nearest denser point is A1 (99 away), corner
    C's is A2 (99 away). rho*delta: A0 ~ 73.4 > B0 ~ 18.5 > C0 ~ 3.5 > everything else (< 0.5)."""
    named = {
        "C1": (3.0, 100.0),
        "B0": (100.0, 0.0),
        "A2": (0.0, 1.0),
        "C0": (0.0, 100.0),
        "A1": (1.0, 0.0),
        "B2": (100.0, 2.0),
        "A0": (0.0, 0.0),
        "C2": (0.0, 103.0),
        "B1": (102.0, 0.0),
    }
    index = {name: i for i, name in enumerate(named)}
    return torch.tensor(list(named.values())), index


def test_dpc_knn_centres_in_score_order_and_members_by_group():
    x, index = three_groups()
    clusters = dpc_knn(x, 3)
    assert clusters.centers.tolist() == [index["A0"], index["B0"], index["C0"]]
    groups = {name: int(clusters.assignment[i]) for name, i in index.items()}
    assert groups == {name: "ABC".index(name[0]) for name in index}


def test_dpc_knn_density_and_delta_by_hand():
    """Same points: check rho * delta of the three centres against the hand formulas."""
    x, index = three_groups()
    root2 = 2**0.5
    far = ((102.0**2 + 103.0**2) ** 0.5) / root2  # B1 <-> C2, the largest distance
    expected = {
        "A0": torch.exp(torch.tensor(-1 / 3)) * far,
        "B0": torch.exp(torch.tensor(-4 / 3)) * 99 / root2,
        "C0": torch.exp(torch.tensor(-3.0)) * 99 / root2,
    }
    d = torch.cdist(x, x) / root2
    rho = (-(d.topk(3, largest=False).values ** 2).mean(dim=1)).exp()
    for name, value in expected.items():
        i = index[name]
        denser = rho > rho[i]
        delta = d[i][denser].min() if denser.any() else d.max()
        torch.testing.assert_close(rho[i] * delta, value.float(), rtol=1e-5, atol=0)
    assert dpc_knn(x, 3).centers.tolist() == [index[n] for n in expected]


def test_dpc_knn_is_deterministic():
    x = torch.randn(60, 16, generator=torch.Generator().manual_seed(0))
    first, second = dpc_knn(x, 5), dpc_knn(x.clone(), 5)
    assert torch.equal(first.centers, second.centers)
    assert torch.equal(first.assignment, second.assignment)
    assert first.assignment[first.centers].tolist() == list(range(5))  # centres own cluster
    d = torch.cdist(x, x)[first.centers]
    assert torch.equal(
        d.argmin(dim=0)[~torch.isin(torch.arange(60), first.centers)],
        first.assignment[~torch.isin(torch.arange(60), first.centers)],
    )


def test_dpc_knn_rejects_impossible_cluster_counts():
    x = torch.randn(4, 3)
    for count in (0, 5):
        with pytest.raises(ValueError, match="clusters"):
            dpc_knn(x, count)


def test_dpc_knn_two_groups_two_clusters():
    """Two tight groups 100 apart, 2 clusters: one centre in each group, members by group
    (the reference's tie-breaking noise gives this; a deterministic tie-break should too).
    Actual: centres [4, 3] (both in group B), assignment [1, 1, 1, 1, 0, 0]."""
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [100.0, 0.0], [100.7, 0.0], [102, 0]])
    clusters = dpc_knn(x, 2)
    centre_groups = sorted(int(c) // 3 for c in clusters.centers)
    assert centre_groups == [0, 1]
    a, b = clusters.assignment[:3], clusters.assignment[3:]
    assert len(set(a.tolist())) == 1 and len(set(b.tolist())) == 1 and a[0] != b[0]


def test_merge_clusters_divides_by_count_plus_epsilon():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [10.0, -10.0], [5.0, 6.0]])
    clusters = Clusters(torch.tensor([2, 0]), torch.tensor([1, 1, 0, 1]))
    merged = merge_clusters(x, clusters)
    expected = torch.tensor([[10.0, -10.0], [9.0, 12.0]]) / torch.tensor([[1 + 1e-6], [3 + 1e-6]])
    assert torch.equal(merged, expected)
    assert not torch.equal(merged[1], x[[0, 1, 3]].mean(dim=0))  # not a plain mean
    half = merge_clusters(x.half(), clusters)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), expected, atol=1e-2, rtol=0)


def test_dpc_knn_takes_norms_of_differences():
    """As the reference: ||x_i - x_j|| directly, so a common offset changes nothing (the
    matrix-multiply shortcut, ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j, loses small distances between
    vectors far from the origin and swaps near-tied centres)."""
    x = torch.randn(80, 64, generator=torch.Generator().manual_seed(0)) * 1e-2
    near, far = dpc_knn(x + 0.5, 8), dpc_knn(x + 50.0, 8)
    assert torch.equal(near.centers, far.centers)
    assert torch.equal(near.assignment, far.assignment)
