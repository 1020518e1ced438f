import sys

from lossdyn.pipeline.cli import main

sys.exit(main())
