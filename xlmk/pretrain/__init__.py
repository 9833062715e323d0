
from xlmk.api import make_callable as _make_callable  # noqa: E402


def _pretrain(*args, **kwargs):
    from xlmk.api import pretrain

    return pretrain(*args, **kwargs)


_make_callable(__name__, _pretrain)  # `xlmk.pretrain(recipe)` runs pre-training
