"""Train a dbdzoo model: `python train.py experiment=<recipe> [overrides]` (= `dbdzoo train ...`)."""

from dbdzoo.engine.entry import main

if __name__ == "__main__":
    main("train")
