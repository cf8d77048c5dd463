"""Turn one task's logits into its prediction format (by task kind)."""
import torch.nn.functional as F
from torch import Tensor


def logits_to_prediction(logits: Tensor, kind: str, task: str) -> Tensor:
    """Post-process one sample's logits (C, H, W) for a task of ``kind``.

    Returns:
        ``label``: int64 class ids (1, H, W) (argmax); ``binary``: float
        probabilities (1, H, W) (sigmoid of 1 channel, or softmax class 1 of
        2 channels); ``normal``: unit vectors (3, H, W); ``scalar``: raw
        values (1, H, W).
    """
    channels = logits.shape[0]
    if kind == 'label':
        return logits.argmax(dim=0, keepdim=True)
    if kind == 'binary':
        if channels == 1:
            return logits.sigmoid()
        if channels == 2:
            return logits.softmax(dim=0)[1:]
    elif kind == 'normal':
        if channels == 3:
            return F.normalize(logits, p=2, dim=0)
    elif kind == 'scalar':
        if channels == 1:
            return logits
    else:
        raise ValueError(f'task {task!r}: unknown kind {kind!r}')
    raise ValueError(f'task {task!r} of kind {kind!r}: the head gives '
                     f'{channels} channels, which this kind does not accept '
                     '(binary: 1 or 2, normal: 3, scalar: 1)')
