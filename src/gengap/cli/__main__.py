import sys

from gengap.cli import main

sys.exit(main())
