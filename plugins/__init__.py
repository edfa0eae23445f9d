"""Built-in Kianax plugins, one module per plugin family."""
