"""Command-line interface: ``nextham <command> ...``."""
