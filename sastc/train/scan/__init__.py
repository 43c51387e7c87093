"""LIF-family scans over time: the torch-op scan, fused kernels for CPU and CUDA, a reference.

All compute the same function (see :mod:`sastc.train.scan.rule`); :func:`lif_scan` picks the
fastest one available for the tensor's device.
"""
