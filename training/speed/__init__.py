"""The training fast path: the same function as the plain modules, cheaper on a CPU (no part of the method).

``fast_encoder`` (the encoder's train-mode forward, equal to ``AudioNTT2020.forward``), ``block1_kernel``
and ``pool_kernel`` (autograd functions over the C++ kernels in ``kernels.cpp``), ``native`` (builds
those as torch ops through ``torch.utils.cpp_extension`` and records which path made a run's weights),
``allocator`` (the training process keeps the heap it frees). Switched on by the recipe's
``fast_encoder``; figures in docs/performance.md.
"""
