import sys

from tenas.cli import main

sys.exit(main())
