"""pbrl: preference-based reinforcement learning (Christiano et al. 2017) on gymnasium + SB3.

Importing pbrl registers the ``pbrl/...`` environment ids with gymnasium.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
# SDL (pygame, which classic-control rendering starts) otherwise takes over SIGINT and SIGTERM,
# and a trainer that renders clips for people would ignore Ctrl-C and `kill`
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")

from pbrl.envs import ENV_IDS, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_IDS", "__version__", "register_envs"]
