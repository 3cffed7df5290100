"""Every write to tickets, one module per concern (STYLE.md: grow a module into a package)."""
