"""Fleet operations: device registry and credentials, commands and acks, alarms, rollout."""
