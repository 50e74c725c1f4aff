"""The policies every resource applies: who calls, what they may see, how lists page,
conditional requests, idempotent POSTs and rate limits."""
