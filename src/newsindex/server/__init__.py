"""`newsindex serve`: the JSON API, the page and the admission of requests."""
