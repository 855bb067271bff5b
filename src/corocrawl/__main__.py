import sys

from corocrawl.cli import console_main

sys.exit(console_main())
