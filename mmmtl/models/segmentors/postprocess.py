"""Turn one task's logits into its prediction format (by task kind)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def check_finite_logits(logits: Tensor, task: str,
                        image: Optional[str] = None) -> None:
    """Raise ``ValueError`` naming the task (and ``image``) when ``logits``
    hold NaN or inf: argmax would turn NaN into class 0 and the evaluators
    would score it as a plausible prediction."""
    finite = torch.isfinite(logits)
    if bool(finite.all()):
        return
    nan = int(torch.isnan(logits).sum())
    inf = logits.numel() - int(finite.sum()) - nan
    where = f' for image {image}' if image else ''
    raise ValueError(
        f'task {task!r}: the model gave non-finite logits{where} ({nan} NaN '
        f'and {inf} inf of {logits.numel()} values), which have no '
        'prediction to evaluate; its weights are probably NaN/inf (a '
        'diverged training or a damaged checkpoint)')


def logits_to_prediction(logits: Tensor, kind: str, task: str,
                         image: Optional[str] = None) -> Tensor:
    """Post-process one sample's logits (C, H, W) for a task of ``kind``.

    Non-finite logits raise ``ValueError`` naming ``task`` and ``image``
    (the sample's ``img_path``, when given).

    Returns:
        ``label``: int64 class ids (1, H, W) (argmax); ``binary``: float
        probabilities (1, H, W) (sigmoid of 1 channel, or softmax class 1 of
        2 channels); ``normal``: unit vectors (3, H, W); ``scalar``: raw
        values (1, H, W).
    """
    check_finite_logits(logits, task, image)
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
