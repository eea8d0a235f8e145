"""Context managers that keep library chatter (warnings, progress bars) out of notebook outputs."""

from __future__ import annotations

import contextlib

from datasets.utils import logging as datasets_logging
from transformers.utils import logging as transformers_logging


@contextlib.contextmanager
def quiet_transformers():
    """``transformers`` logs errors only inside the block; the previous verbosity comes back after."""
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)


@contextlib.contextmanager
def quiet_datasets():
    """Silence ``datasets``' progress bars (saving, mapping) inside the block."""
    enabled = datasets_logging.is_progress_bar_enabled()
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            datasets_logging.enable_progress_bar()
