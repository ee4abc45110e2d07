"""PyTorch's `torch.utils`: `utils.data` (`TensorDataset`, `DataLoader`) and `utils.checkpoint`
(recomputing activations in backward)."""
from . import checkpoint, data

__all__ = ["data", "checkpoint"]
