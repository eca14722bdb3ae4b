"""Relevance evaluation: TREC-style runs and judgements, batch search."""
