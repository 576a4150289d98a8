"""Fleet operations: the broker with accounts and the device registry (issue 10)."""
