import sys

from lossdyn.cli import main

sys.exit(main())
