import sys

from corocrawl.cli import main

sys.exit(main())
