import sys

from matcoach.cli import main

sys.exit(main())
