"""Networks every learner shares: EPyMARL's agent (fc -> GRU or fc -> head) and an MLP.

Parameter sharing is the default: one network for all agents, told apart by a one-hot id
appended to each observation (EPyMARL's `obs_agent_id`).
"""
from __future__ import annotations

import torch
from torch import nn


def with_agent_ids(x: torch.Tensor) -> torch.Tensor:
    """Append a one-hot agent id to `x` [..., N, D] -> [..., N, D + N]."""
    n_agents = x.shape[-2]
    ids = torch.eye(n_agents, dtype=x.dtype, device=x.device).expand(*x.shape[:-1], n_agents)
    return torch.cat([x, ids], dim=-1)


class AgentNet(nn.Module):
    """fc -> ReLU -> (GRU | fc -> ReLU) -> fc: EPyMARL's `RNNAgent` with `use_rnn` on or off."""

    def __init__(self, input_dim: int, hidden_dim: int, n_outputs: int, use_rnn: bool = True):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.use_rnn = use_rnn
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.rnn = nn.GRU(hidden_dim, hidden_dim) if use_rnn else nn.Linear(hidden_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, n_outputs)

    def init_hidden(self, *batch: int) -> torch.Tensor:
        return torch.zeros(*batch, self.hidden_dim)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: x [B, I], h [B, H] -> (outputs [B, n_outputs], new h [B, H])."""
        z = torch.relu(self.fc1(x))
        if self.use_rnn:
            h = self.rnn(z.unsqueeze(0), h.unsqueeze(0))[1].squeeze(0)
        else:
            h = torch.relu(self.rnn(z))
        return self.fc2(h), h

    def unroll(self, x: torch.Tensor, h0: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Run over time: x [T, B, I], h0 [B, H], first [T, B] (1 where an episode starts).

        The hidden state restarts from zero wherever an episode starts, exactly as it did while
        acting, so recomputed outputs match the behaviour policy's. Rather than stepping a cell
        in Python, each column is cut into its episode pieces, the pieces are padded side by
        side and run through the fused `nn.GRU` in one call (padding sits after each piece, so
        it never reaches a real step).
        """
        z = torch.relu(self.fc1(x))
        if not self.use_rnn:
            return self.fc2(torch.relu(self.rnn(z)))
        t_len, batch = first.shape
        starts = first.bool().clone()
        starts[0] = True
        flat_starts = starts.t().reshape(-1)  # column-major: all steps of column 0, then column 1...
        piece = torch.cumsum(flat_starts.long(), 0) - 1
        start_at = torch.nonzero(flat_starts).squeeze(-1)
        pos = torch.arange(t_len * batch) - start_at[piece]
        n_pieces, longest = int(piece[-1]) + 1, int(pos.max()) + 1
        padded = z.new_zeros(longest, n_pieces, z.shape[-1])
        padded[pos, piece] = z.transpose(0, 1).reshape(t_len * batch, -1)
        h_start = z.new_zeros(n_pieces, self.hidden_dim)
        carry = ~first[0].bool()  # columns whose first piece continues an episode from before
        col_first_piece = piece.view(batch, t_len)[:, 0]
        h_start[col_first_piece[carry]] = h0[carry]
        out, _ = self.rnn(padded, h_start.unsqueeze(0))
        h = out[pos, piece].view(batch, t_len, -1).transpose(0, 1)
        return self.fc2(h)


class PerAgentNets(nn.Module):
    """One `AgentNet` per agent (no parameter sharing); rows are ordered (..., agent) like the shared net's."""

    def __init__(self, n_agents: int, input_dim: int, hidden_dim: int, n_outputs: int, use_rnn: bool = True):
        super().__init__()
        self.n_agents, self.hidden_dim, self.use_rnn = n_agents, hidden_dim, use_rnn
        self.nets = nn.ModuleList(AgentNet(input_dim, hidden_dim, n_outputs, use_rnn) for _ in range(n_agents))

    def init_hidden(self, *batch: int) -> torch.Tensor:
        return torch.zeros(*batch, self.hidden_dim)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, h = x.view(-1, self.n_agents, x.shape[-1]), h.view(-1, self.n_agents, h.shape[-1])
        outs = [net(x[:, i], h[:, i]) for i, net in enumerate(self.nets)]
        out = torch.stack([o for o, _ in outs], 1).flatten(0, 1)
        return out, torch.stack([hn for _, hn in outs], 1).flatten(0, 1)

    def unroll(self, x: torch.Tensor, h0: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Columns are (env, agent) pairs: agent i's columns go through agent i's network."""
        n = self.n_agents
        outs = [net.unroll(x[:, i::n], h0[i::n], first[:, i::n]) for i, net in enumerate(self.nets)]
        return torch.stack(outs, 2).flatten(1, 2)


def mlp(input_dim: int, hidden_dim: int, output_dim: int, layers: int = 2) -> nn.Sequential:
    """`layers` hidden ReLU layers then a linear head (EPyMARL's critics use 2 x 128)."""
    dims = [input_dim] + [hidden_dim] * layers
    mods: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    mods.append(nn.Linear(dims[-1], output_dim))
    return nn.Sequential(*mods)


class RunningMeanStd:
    """Running mean and variance (Chan et al.), as EPyMARL uses to standardise rewards."""

    def __init__(self, epsilon: float = 1e-4):
        self.mean = 0.0
        self.var = 1.0
        self.count = epsilon

    def update(self, x: torch.Tensor) -> None:
        batch_mean, batch_var, batch_count = x.mean().item(), x.var(unbiased=False).item(), x.numel()
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        self.var = m2 / total
        self.count = total

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / max(self.var, 1e-8) ** 0.5
