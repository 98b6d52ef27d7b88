"""pbrl: preference-based reinforcement learning (Christiano et al. 2017) on gymnasium + SB3.

Importing pbrl registers the ``pbrl/...`` environment ids with gymnasium.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from pbrl.envs import ENV_IDS, register_envs  # noqa: E402

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_IDS", "__version__", "register_envs"]
