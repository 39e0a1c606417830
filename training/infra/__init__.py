"""What a training run needs around the method: its data and its run folder.

Data: ``data`` (file lists, random crops, a resumable batch order), ``domains`` (the share of each
domain in a pass), ``corpus_record`` (the corpus version and domain mix a run records), ``cache`` (the
corpus decoded once into a memory map). Run folder: ``checkpoint``
(the full training state, written atomically), ``run_log`` (metrics.jsonl, train.log, progress bar),
``distributed`` (torchrun / DDP helpers), ``export`` (a run as a slicer-embed model folder).
"""
