"""The training loop: ``fit.train`` runs it (exported as ``dbdzoo.engine.train``), ``assemble`` builds its
parts, ``step`` is one optimiser step, ``validate``, ``budget``, ``saving`` and ``interrupts`` serve it."""
