"""`python -m orca_desktop` is `orca-desktop`."""

from orca_desktop.cli import main

raise SystemExit(main())
