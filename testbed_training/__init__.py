"""Training scripts of the testbed's committed weights (run from the repo root; not installed).

`python -m testbed_training.train --all` retrains every stage; `retrain_all.sh` reruns the
alignment and the projector adaptation and measures the result. Users and CI never train.
"""
