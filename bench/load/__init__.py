"""Load testing with locust: open-loop (fixed or Poisson arrivals) and closed-loop, latency from raw
samples."""
