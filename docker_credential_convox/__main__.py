"""`python -m docker_credential_convox ACTION` runs the helper like its console script."""

from docker_credential_convox.cli import main

raise SystemExit(main())
