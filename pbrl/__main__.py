import sys

from pbrl.cli import main

sys.exit(main())
