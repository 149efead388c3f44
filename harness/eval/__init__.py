"""Scoring: retrieval metrics, answer metrics through ragas, latency statistics."""
