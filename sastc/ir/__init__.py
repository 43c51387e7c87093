"""sastc's graph IR (numpy only): nodes, graphs, fused float layers and quantized layers."""

from sastc.ir.graph import Graph, load_graph, save_graph
from sastc.ir.layers import FloatLayer, FloatNet, Geometry
from sastc.ir.lower import fuse
from sastc.ir.quantized import QLayer, QNet, load_qnet, save_qnet

__all__ = ["FloatLayer", "FloatNet", "Geometry", "Graph", "QLayer", "QNet", "fuse", "load_graph",
           "load_qnet", "save_graph", "save_qnet"]
