"""The email channel: mail in becomes tickets and replies (inbound intake, threading, guard)."""
