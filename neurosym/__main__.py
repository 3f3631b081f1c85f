from neurosym.cli import main

main()
