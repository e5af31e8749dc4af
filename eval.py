"""Evaluate a model or a folder of prediction maps: `python eval.py model_ref=<ref> datasets=[cuhk]`."""

from dbdzoo.engine.entry import main

if __name__ == "__main__":
    main("eval")
