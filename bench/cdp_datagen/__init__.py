"""Synthetic data generator for the CDP: messy raw source tables with ground truth."""

from .config import GenConfig
from .contract import TABLES
from .generate import generate

__all__ = ["TABLES", "GenConfig", "generate"]
