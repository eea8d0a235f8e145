"""Context managers that keep library chatter (warnings, progress bars) out of notebook outputs."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_transformers():
    """``transformers`` logs errors only inside the block; the previous verbosity comes back after."""
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


@contextlib.contextmanager
def quiet_datasets():
    """Silence ``datasets``' progress bars (saving, mapping) inside the block."""
    from datasets.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
