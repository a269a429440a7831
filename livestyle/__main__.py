from livestyle.cli import main
import sys
sys.exit(main())
