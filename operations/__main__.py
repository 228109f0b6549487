from operations.cli.app import main

main()
