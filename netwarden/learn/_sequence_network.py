"""The PyTorch network behind the sequence classifiers: embeddings, a recurrent layer, a linear head."""

from __future__ import annotations

import torch
from torch import nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def embedding_size(vocabulary: int) -> int:
    """Small embeddings: a few dimensions say all a protocol or a status class has to say."""
    return int(min(8, max(2, round(vocabulary ** 0.5))))


class SequenceNetwork(nn.Module):
    """Reads ``timesteps`` event rows (numeric + categorical) and scores the last one.

    Categorical codes go through one embedding each (index 0 is padding and stays zero); the step vectors
    go through an RNN, LSTM or GRU; the last hidden state, after dropout, through a linear layer to logits.
    """

    def __init__(self, cell: str, numeric: int, vocabularies: list[int], hidden_size: int, layers: int,
                 dropout: float, classes: int) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(size, embedding_size(size), padding_idx=0)
                                        for size in vocabularies)
        width = numeric + sum(embedding_size(size) for size in vocabularies)
        self.recurrent = CELLS[cell](width, hidden_size, num_layers=layers, batch_first=True,
                                     dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, classes)

    def steps(self, numeric: torch.Tensor,
              categorical: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The embedded categorical parts (kept apart so explanations can weigh each one)."""
        return numeric, [emb(categorical[..., i]) for i, emb in enumerate(self.embeddings)]

    def forward_parts(self, numeric: torch.Tensor, embedded: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat([numeric, *embedded], dim=-1) if embedded else numeric
        output, _ = self.recurrent(x)
        return self.head(self.dropout(output[:, -1]))

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return self.forward_parts(*self.steps(numeric, categorical))


def load_weights(network: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy ``tensors`` into ``network`` after checking they are exactly the weights it expects
    (names, dtypes, shapes, finite values); raises ``ValueError`` saying which one is wrong."""
    expected = network.state_dict()
    missing, unexpected = set(expected) - set(tensors), set(tensors) - set(expected)
    if missing or unexpected:
        raise ValueError(f"weights do not match the model description: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")
    for name, tensor in tensors.items():
        want = expected[name]
        if tensor.dtype != want.dtype or tuple(tensor.shape) != tuple(want.shape):
            raise ValueError(f"weight {name}: {tensor.dtype} {tuple(tensor.shape)}, expected "
                             f"{want.dtype} {tuple(want.shape)}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"weight {name} holds NaN or infinite values")
    network.load_state_dict(tensors, strict=True)
