"""HTTP plumbing: what every request goes through, whichever resource answers it."""
