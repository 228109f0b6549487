"""The writing half: plan per-thread journal operations, show them, execute them."""
