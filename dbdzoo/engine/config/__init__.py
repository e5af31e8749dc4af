"""The training config: where the Hydra tree lives, its resolvers, and the checks run before a build."""

from .location import config_dir

__all__ = ["config_dir"]
