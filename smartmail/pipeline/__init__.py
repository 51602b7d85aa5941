"""One mail's way: process, threading, steering, resends, quarantine."""
