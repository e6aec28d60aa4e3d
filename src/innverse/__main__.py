from innverse.cli import main

raise SystemExit(main())
