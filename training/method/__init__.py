"""The SLICER method as this package trains it, one concept a file (docs/method.md gives the sections).

In the order of a training step: ``pretrain`` (the loop: crops -> log-mel -> two views -> student and
teacher -> losses -> optimiser step, EMA, enqueue), ``config`` (the recipe and its presets), ``views``
(the augmentation chain) with ``augment`` (mixup, random resize crop), ``kmix`` and ``memory`` (the
FIFO banks), ``student_teacher`` and ``heads`` (the networks), ``ema`` (the teacher's update),
``losses`` and ``queue`` (the objective and its negatives), ``corpus_stats`` (normalisation statistics
and k-mix centroids, computed before the first step), ``schedules`` (the learning rate).

Data and the run folder come from ``training.infra``, the encoder's CPU fast path from ``training.speed``.
"""
