"""What an admin runs the daemon with: systemd's notifications, `smartmail doctor`, checks of
the office's template overrides."""
