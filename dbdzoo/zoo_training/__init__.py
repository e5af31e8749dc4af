"""One-shot training of the zoo on a lent GPU (``benchmarks/gpu_train_zoo.py``): plan, stages, report.

It sits above the engine (each stage is a ``train.py`` run) and the hub (releases), like the CLI.
"""
