# Stands in for src/promote_job.py: the bundle loader only checks that task files exist.
