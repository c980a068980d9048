"""The daemon process: the supervisor of its tasks, locks, configuration, logging, sd_notify, systemd units."""
