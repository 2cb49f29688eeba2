"""Density-peak clustering with k nearest neighbours (DPC-kNN), as SparseVLM's token recycling uses
it (after TCFormer, Zeng et al. 2022), and the merge of each cluster into one token.

Deterministic: the reference adds uniform noise in [0, 1e-6) to the densities to break ties; we
add none (the reference run with the noise set to zero made identical decisions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Clusters:
    centers: torch.Tensor  # (K,) indices of the centre tokens, in descending centre score
    assignment: torch.Tensor  # (n,) cluster of each token, 0..K-1 in the order of `centers`


def dpc_knn(x: torch.Tensor, num_clusters: int) -> Clusters:
    """Cluster the rows of x (n, C) into `num_clusters` groups.

    - distances D_ij = ||x_i - x_j|| / sqrt(C);
    - density rho_i = exp(-mean of D_ij^2 over the k nearest neighbours of i, i itself included),
      with k = num_clusters (as the reference);
    - delta_i = distance to the nearest token of higher density (the largest distance overall
      for the densest token);
    - centres = the num_clusters tokens with the largest rho * delta; every token joins its
      nearest centre and every centre its own cluster.
    """
    n = x.shape[0]
    if not 1 <= num_clusters <= n:
        raise ValueError(f"cannot make {num_clusters} clusters of {n} tokens")
    x = x.float()
    # The norm of each difference, as the reference computes it: cdist's matrix-multiply
    # shortcut errs by up to 1e-3 on distances of 5e-3 and can swap near-tied cluster centres.
    dist = torch.cdist(x[None], x[None], compute_mode="donot_use_mm_for_euclid_dist")[0]
    dist = dist / x.shape[1] ** 0.5  # (n, n)
    nearest = dist.topk(num_clusters, dim=-1, largest=False).values
    density = (-(nearest**2).mean(dim=-1)).exp()  # (n,)
    # denser[i, j]: j is denser than i; equal densities go to the earlier token (the reference
    # breaks such ties with random noise; candidates come in descending attention score).
    index = torch.arange(n, device=x.device)
    denser = (density[None, :] > density[:, None]) | (
        (density[None, :] == density[:, None]) & (index[None, :] < index[:, None])
    )
    delta = torch.where(denser, dist, dist.max()).min(dim=-1).values
    centers = (delta * density).topk(num_clusters).indices
    assignment = dist[centers].argmin(dim=0)
    assignment[centers] = torch.arange(num_clusters, device=x.device)
    return Clusters(centers, assignment)


def merge_clusters(x: torch.Tensor, clusters: Clusters) -> torch.Tensor:
    """(K, C): each cluster's members summed and divided by (count + 1e-6), as the reference.
    Accumulated in float32, returned in x's dtype."""
    num_clusters = clusters.centers.shape[0]
    sums = x.new_zeros(num_clusters, x.shape[1], dtype=torch.float32)
    sums.index_add_(0, clusters.assignment, x.float())
    counts = torch.bincount(clusters.assignment, minlength=num_clusters).float()
    return (sums / (counts[:, None] + 1e-6)).to(x.dtype)
