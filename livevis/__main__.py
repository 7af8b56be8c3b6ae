import sys

from livevis.cli import main

sys.exit(main())
