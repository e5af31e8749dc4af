"""Offline evaluation (``dbdzoo eval``): ``run.evaluate`` scores a model or a folder of prediction maps
(``sources``) on the ``datasets`` it resolves, with the ``scoring`` of each dataset's task."""
