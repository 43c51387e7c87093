"""Simulators (numpy only): float surrogate/hard and bit-exact integer, with SynOps."""

from sastc.sim.float_sim import FloatSimulator
from sastc.sim.int_sim import IntegerSimulator
from sastc.sim.synops import SynOps, SynOpsCounter

__all__ = ["FloatSimulator", "IntegerSimulator", "SynOps", "SynOpsCounter"]
