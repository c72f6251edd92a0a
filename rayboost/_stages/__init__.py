"""The pipeline's stages, one module each, each with one entry function:

- :mod:`.create` — check a name is free (or resumable) and create or open the experiment;
- :mod:`.tune` — the net search on Ray Tune;
- :mod:`.select` — the best trial on validation, scored once on test;
- :mod:`.ensemble` — members, weights, refits and the test pass of the ensemble (and re-weighting).

:mod:`rayboost._pipeline` runs them in order, under the experiment's lock.
"""
