# Stands in for src/train_job.py: the bundle loader only checks that task files exist.
