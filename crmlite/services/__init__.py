"""Business rules, one module per idea. Functions take and return models or plain values,
never touch ``request`` and never commit: the caller (a view or a command) commits."""
