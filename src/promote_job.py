"""Entry point of the bundle's promotion job.

The job's ``spark_python_task`` runs a file as a script, so Python puts that file's directory on
``sys.path``. Living directly in ``src/``, this launcher makes ``human_interrupt_agent`` importable
without installing a wheel, then hands over to the package's promotion command.
"""

import sys

from human_interrupt_agent.promote import main

if __name__ == "__main__":
    sys.exit(main())
