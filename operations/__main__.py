from operations.cli.entry import main

main()
