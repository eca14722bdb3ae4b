"""Answering a query over a searcher: the plan, ranking, expansion, suggestions, facets, snippets."""
