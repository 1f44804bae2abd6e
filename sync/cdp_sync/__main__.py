from cdp_sync.cli import main

main()
